// `stasis pack` / `stasis unpack`: one committed generation as a tar file,
// to move it to another machine or an archive. The archive holds
// `gen-NNNNNN/` (manifest.json, the images, their side files) and the
// store's settings.json. Unpacking verifies every checksum (the inspect
// verifier) in a temporary directory inside the store before the generation
// appears there, by one rename, and never replaces a generation.
//
// Sparse files: the tar package writes no sparse entries (it reads a file
// whole, holes as zeros), so unpack makes holes again where a whole 4 KiB
// block is zero: shm-*.data files (image-format.md) come back sparse.
import * as tar from 'tar';
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync,
  renameSync, rmSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { generationName, generationNumber, parseManifest, processFiles } from './manifest.js';
import { resolveGeneration, Store } from './store.js';
import { checkAgainstManifest } from './manifest-check.js';
import { inspect } from './inspect.js';
import { SETTINGS_FILE } from './settings.js';
import { liveCoordinator } from '../coordinator/publish.js';

export interface Packed { generation: number; files: number; bytes: number; out: string; notice: string | null }

/** D's generation `gen` (a number or gen-NNNNNN), or the one restart would use. */
function chooseToPack(target: string, gen: string | undefined) {
  if (gen === undefined) return resolveGeneration(target);
  const n = /^\d+$/.test(gen) ? Number(gen) : generationNumber(gen);
  if (n === null || n < 1) throw new Error(`pack: '${gen}' is not a generation (want N or gen-NNNNNN)`);
  return resolveGeneration(join(target, generationName(n)));
}

const gzipped = (file: string) => /\.(tgz|gz)$/.test(file);

export async function pack(target: string, gen: string | undefined, out: string): Promise<Packed> {
  const { store, generation, dir, manifest, notice } = chooseToPack(target, gen);
  checkAgainstManifest(dir, manifest);   // a damaged generation is not archived
  const name = generationName(generation);
  const names = ['manifest.json', ...manifest.processes.flatMap(processFiles)];
  const paths = [...new Set(names)].map((n) => `${name}/${n}`);
  if (existsSync(join(store.dir, SETTINGS_FILE))) paths.push(SETTINGS_FILE);
  const bytes = paths.reduce((sum, p) => sum + statSync(join(store.dir, p)).size, 0);
  const final = resolve(out);
  const tmp = `${final}.${process.pid}.tmp`;
  try {
    await tar.c({ file: tmp, cwd: store.dir, portable: true, gzip: gzipped(final) }, paths);
    const fd = openSync(tmp, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`pack: cannot write ${final}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { generation, files: paths.length, bytes, out: final, notice };
}

const BLOCK = 4096;
const ZERO = Buffer.alloc(BLOCK);

/** Writes a file from chunks, leaving a hole wherever a whole aligned block is zero. */
class SparseWriter {
  private fd: number;
  private buf = Buffer.alloc(1 << 20);
  private fill = 0;
  private pos = 0;          // file offset of buf[0]
  written = 0;

  constructor(readonly path: string, mode: number) {
    this.fd = openSync(path, 'wx', mode);
  }

  push(chunk: Buffer): void {
    for (let at = 0; at < chunk.length;) {
      const n = chunk.copy(this.buf, this.fill, at);
      this.fill += n;
      at += n;
      if (this.fill === this.buf.length) this.flush();
    }
    this.written += chunk.length;
  }

  private flush(): void {
    let run = -1;   // start of a run of non-zero blocks
    for (let off = 0; off < this.fill; off += BLOCK) {
      const len = Math.min(BLOCK, this.fill - off);
      const zero = this.buf.subarray(off, off + len).equals(ZERO.subarray(0, len));
      if (!zero && run < 0) run = off;
      if (zero && run >= 0) {
        writeSync(this.fd, this.buf, run, off - run, this.pos + run);
        run = -1;
      }
    }
    if (run >= 0) writeSync(this.fd, this.buf, run, this.fill - run, this.pos + run);
    this.pos += this.fill;
    this.fill = 0;
  }

  /** Flushes, sets the size (trailing holes), fsyncs and closes. */
  end(): void {
    try {
      this.flush();
      ftruncateSync(this.fd, this.pos);
      fsyncSync(this.fd);
    } finally { closeSync(this.fd); }
  }

  abort(): void { try { closeSync(this.fd); } catch { /* closed */ } }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Where an archive entry goes, or why it does not belong in one of ours. */
function entryPlace(path: string, type: string): { gen: string | null; name: string } | 'skip' {
  const p = path.replace(/^\.\//, '');
  if (type === 'Directory' && /^gen-\d{6,}\/?$/.test(p)) return 'skip';
  if (type !== 'File' && type !== 'OldFile' && type !== 'ContiguousFile') throw new Error(`unexpected ${type} entry ${path}`);
  if (p === SETTINGS_FILE) return { gen: null, name: p };
  const m = /^(gen-\d{6,})\/([^/]+)$/.exec(p);
  if (!m || m[2] === '.' || m[2] === '..') throw new Error(`unexpected entry ${path} (not gen-NNNNNN/FILE or ${SETTINGS_FILE})`);
  return { gen: m[1]!, name: m[2]! };
}

export interface Unpacked { generation: number; dir: string; latest: boolean; settings: 'placed' | 'kept' | 'none' }

export async function unpack(archive: string, target: string): Promise<Unpacked> {
  if (!existsSync(archive)) throw new Error(`unpack: ${archive}: no such file`);
  const store = new Store(target);
  const live = liveCoordinator(store.dir);
  // Its next generation could take the same number: add generations to a store nobody writes.
  if (live) throw new Error(`unpack: a coordinator (pid ${live.pid}) serves ${store.dir}: stop it first (stasis command --ckpt-dir ${store.dir} --quit)`);
  store.ensure();
  const tmp = mkdtempSync(join(store.dir, '.unpack-'));
  try {
    let gen: string | null = null;
    let failure: Error | null = null;
    let settings = false;
    let open: SparseWriter | null = null;   // the entry being written, closed if the archive ends inside it
    await tar.t({
      file: archive, strict: true,
      onReadEntry: (entry) => {
        if (failure) return;
        try {
          const place = entryPlace(entry.path, entry.type);
          if (place === 'skip') return;
          if (place.gen) {
            if (gen && gen !== place.gen) throw new Error(`it holds more than one generation (${gen}, ${place.gen})`);
            if (!gen) {
              gen = place.gen;
              if (existsSync(store.genDir(generationNumber(gen)!)))
                throw new Error(`${store.genDir(generationNumber(gen)!)} already exists: not overwritten`);
              mkdirSync(join(tmp, gen), { mode: 0o700 });
            }
          } else settings = true;
          const w = new SparseWriter(join(tmp, place.gen ?? '', place.name), (entry.mode ?? 0o600) & 0o777);
          open = w;
          entry.on('data', (c: Buffer) => { if (!failure) { try { w.push(c); } catch (e) { failure = e as Error; } } });
          entry.on('end', () => {
            if (w.written !== entry.size && !failure) failure = new Error(`${entry.path}: ${w.written} of ${entry.size} bytes`);
            open = null;
            try { w.end(); } catch (e) { failure ??= e as Error; }
          });
        } catch (e) { failure = e as Error; }
      },
    }).catch((e: Error) => { failure ??= new Error(`not a readable tar archive: ${e.message}`); });
    (open as SparseWriter | null)?.abort();
    if (failure) throw failure;
    if (!gen) throw new Error('it holds no generation (no gen-NNNNNN/ entries)');
    const genName: string = gen;
    const unpacked = join(tmp, genName);
    const manifestPath = join(unpacked, 'manifest.json');
    if (!existsSync(manifestPath)) throw new Error(`${genName} has no manifest.json`);
    const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), `${genName}/manifest.json`);
    if (generationName(manifest.generation) !== genName) throw new Error(`${genName}/manifest.json is the manifest of generation ${manifest.generation}`);
    const listed = new Set(['manifest.json', ...manifest.processes.flatMap(processFiles)]);
    const extra = readdirSync(unpacked).filter((n) => !listed.has(n));
    if (extra.length) throw new Error(`${genName}/${extra[0]} is not in its manifest`);
    // Every byte of every image and side file, before anything is placed in the store.
    await inspect(unpacked);
    fsyncDir(unpacked);
    const final = store.genDir(manifest.generation);
    if (existsSync(final)) throw new Error(`${final} already exists: not overwritten`);
    renameSync(unpacked, final);
    fsyncDir(store.dir);
    let placed: Unpacked['settings'] = 'none';
    if (settings) {
      placed = existsSync(join(store.dir, SETTINGS_FILE)) ? 'kept' : 'placed';
      if (placed === 'placed') renameSync(join(tmp, SETTINGS_FILE), join(store.dir, SETTINGS_FILE));
    }
    const newest = store.latest();
    const latest = newest === null || newest <= manifest.generation;
    if (latest) {
      const link = join(store.dir, `.latest.${process.pid}.tmp`);
      rmSync(link, { force: true });
      symlinkSync(basename(final), link);
      renameSync(link, join(store.dir, 'latest'));
    }
    fsyncDir(store.dir);
    return { generation: manifest.generation, dir: final, latest, settings: placed };
  } catch (e) {
    throw new Error(`unpack ${archive}: ${(e as Error).message}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
