// The image store: generations committed whole or not at all.
// A generation is built in `.gen-NNNNNN.tmp/`, every file fsynced, renamed to
// `gen-NNNNNN/`, the directory fsynced, then `latest` replaced atomically.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync,
  realpathSync, renameSync, rmSync, statSync, symlinkSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { generationName, generationNumber, parseManifest, type Manifest } from './manifest.js';

/** Runs `f`; an error is rethrown naming `path` (write and fsync errors name no file by themselves). */
function naming<T>(path: string, what: string, f: () => T): T {
  try { return f(); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${path}: cannot ${what}: ${err.code ? `${err.code} (${describeCode(err)})` : err.message}`);
  }
}

/** "no space left on device" out of Node's "ENOSPC: no space left on device, write". */
function describeCode(e: NodeJS.ErrnoException): string {
  return e.message.replace(/^[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '');
}

function fsyncPath(path: string): void {
  naming(path, 'fsync', () => {
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  });
}

/**
 * A file a process wrote into a generation: the size it reported, mode 0600.
 * Its writer made it 0600 and fsynced it before it answered SAVED
 * (docs/protocol.md), so it is not fsynced again here: even a clean file's
 * fsync flushes the disk's cache, about a millisecond each, which made
 * the commit of 1024 processes' images take seconds. The directory holding
 * it is fsynced once, for every name in it.
 */
function durableAs(path: string, bytes: number): void {
  const st = statSync(path);
  if (st.size !== bytes) throw new Error(`${path}: size differs from what its process reported`);
  if ((st.mode & 0o777) !== 0o600) {
    chmodSync(path, 0o600);
    fsyncPath(path);
  }
}

/** Writes a file with mode 0600 and fsyncs it. */
export function writeFileDurable(path: string, data: string): void {
  naming(path, 'write', () => {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally { closeSync(fd); }
  });
}

export class Store {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Creates the store directory (mode 0700) if needed; one line when it cannot be. */
  ensure(): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR')
        throw new Error(`checkpoint directory ${this.dir}: a file is in the way (not a directory)`);
      throw new Error(`cannot create the checkpoint directory ${this.dir}: ${code ?? (e as Error).message}`);
    }
  }

  /** Committed generation numbers, oldest first. */
  generations(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .map(generationNumber)
      .filter((n): n is number => n !== null && existsSync(join(this.dir, generationName(n), 'manifest.json')))
      .sort((a, b) => a - b);
  }

  /**
   * The newest committed generation. `latest` points at it, except after a
   * crash between a commit's rename and the move of the link: the renamed
   * generation is complete all the same (see chooseGeneration).
   */
  latest(): number | null {
    return this.generations().at(-1) ?? null;
  }

  /** The committed generation the `latest` link names, or null. */
  linked(): number | null {
    try {
      const n = generationNumber(readlinkSync(join(this.dir, 'latest')));
      if (n !== null && existsSync(join(this.genDir(n), 'manifest.json'))) return n;
    } catch { /* no link */ }
    return null;
  }

  /**
   * The next number: above every `gen-NNNNNN` name in the directory,
   * committed or not — a leftover without manifest must not block commits —
   * and above every `.gen-NNNNNN.tmp` or `.deleting` left over: an aborted
   * attempt's straggler may still write there.
   */
  nextGeneration(): number {
    if (!existsSync(this.dir)) return 1;
    const used = readdirSync(this.dir)
      .map((name) => generationNumber(name.replace(/^\.(gen-\d+)\.(tmp|deleting)$/, '$1')))
      .filter((n): n is number => n !== null);
    return Math.max(0, ...used) + 1;
  }

  genDir(generation: number): string {
    return join(this.dir, generationName(generation));
  }

  tmpDir(generation: number): string {
    return join(this.dir, `.${generationName(generation)}.tmp`);
  }

  /** Starts generation G: a fresh temporary directory for its images. */
  begin(generation: number): string {
    this.ensure();
    const tmp = this.tmpDir(generation);
    rmSync(tmp, { recursive: true, force: true });   // left by a crashed coordinator
    mkdirSync(tmp, { mode: 0o700 });
    return tmp;
  }

  /** Drops an aborted generation; committed ones are never touched. */
  abort(generation: number): void {
    rmSync(this.tmpDir(generation), { recursive: true, force: true });
  }

  /**
   * Writes the manifest, fsyncs everything, renames, and moves `latest`.
   * `step` is called before the rename ('commit') and before `latest` moves ('renamed'): test pauses.
   */
  commit(manifest: Manifest, step?: (at: 'commit' | 'renamed') => void): string {
    const tmp = this.tmpDir(manifest.generation);
    const final = this.genDir(manifest.generation);
    if (existsSync(final)) throw new Error(`${final} already exists: refusing to overwrite a committed generation`);
    for (const p of manifest.processes) {
      durableAs(join(tmp, p.image), p.bytes);
      for (const f of [...p.files ?? [], ...p.refs ?? []]) durableAs(join(tmp, f.name), f.bytes);
    }
    writeFileDurable(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    fsyncPath(tmp);
    step?.('commit');
    renameSync(tmp, final);
    fsyncPath(this.dir);
    step?.('renamed');
    const link = join(this.dir, `.latest.${process.pid}.tmp`);
    rmSync(link, { force: true });
    symlinkSync(basename(final), link);
    renameSync(link, join(this.dir, 'latest'));
    fsyncPath(this.dir);
    return final;
  }

  /** Keeps the newest `keep` generations (0: keep all); never the one `latest` names, nor those in `spare`. */
  prune(keep: number, spare: number[] = []): number[] {
    if (keep <= 0) return [];
    const gens = this.generations();
    const linked = this.linked();
    const doomed = gens.slice(0, Math.max(0, gens.length - keep)).filter((g) => g !== linked && !spare.includes(g));
    for (const g of doomed) {
      // Rename first so a half-deleted generation never looks committed.
      const trash = join(this.dir, `.${generationName(g)}.deleting`);
      renameSync(this.genDir(g), trash);
      rmSync(trash, { recursive: true, force: true });
    }
    return doomed;
  }

  readManifest(generation: number): Manifest {
    const file = join(this.genDir(generation), 'manifest.json');
    return parseManifest(readFileSync(file, 'utf8'), file);
  }
}

/** The generation of a store that restart and inspect use, and why, when it is not simply `latest`. */
export interface Chosen { generation: number; notice: string | null }

/**
 * The one policy of `stasis restart D` and `stasis inspect D`: the newest
 * committed generation (one with manifest.json). `latest` normally points at
 * it; a coordinator killed after a commit's rename but before it moved the
 * link leaves it on the one before, and the renamed generation, whose every
 * file was fsynced before the rename, is used all the same. A gen-NNNNNN
 * without manifest.json is never committed (commit renames a directory that
 * already holds its manifest): an uncommitted leftover, skipped. Whenever the
 * choice is not simply `latest`, or a leftover newer than it is skipped, the
 * notice says which generation is used and why (one line). Throws when none
 * is committed.
 */
export function chooseGeneration(store: Store, shown = store.dir): Chosen {
  const names = existsSync(store.dir) ? readdirSync(store.dir) : [];
  const numbers = names.map(generationNumber).filter((n): n is number => n !== null).sort((a, b) => a - b);
  const committed = (n: number) => existsSync(join(store.genDir(n), 'manifest.json'));
  let link: string | null = null;
  try { link = readlinkSync(join(store.dir, 'latest')); } catch { /* missing, or not a symlink */ }
  const linked = link === null ? null : generationNumber(basename(link));
  const generation = numbers.filter(committed).at(-1);
  if (generation === undefined) {
    const uncommitted = numbers.length ? ` (${numbers.map(generationName).join(', ')} without manifest.json)` : '';
    throw new Error(`${shown}: no committed checkpoint generation in this directory${uncommitted}`);
  }
  const why: string[] = [];
  if (link === null) why.push('no latest link');
  else if (linked === null) why.push(`latest points at ${link}, not a generation`);
  else if (!committed(linked)) why.push(`latest points at ${generationName(linked)}, which has no manifest.json`);
  else if (linked < generation) why.push(`latest points at ${generationName(linked)}, but ${generationName(generation)} is committed (its commit was cut off before latest moved)`);
  const leftovers = numbers.filter((n) => n > generation && !committed(n) && n !== linked).map(generationName);
  if (leftovers.length) why.push(`${leftovers.join(', ')} ${leftovers.length === 1 ? 'has' : 'have'} no manifest.json (uncommitted, skipped)`);
  return { generation, notice: why.length ? `using ${generationName(generation)} of ${shown}: ${why.join('; ')}` : null };
}

/**
 * What `stasis restart D|gen` means: a store directory (its latest
 * generation) or one generation directory. Throws a one-line error.
 */
export function resolveGeneration(target: string): { store: Store; generation: number; dir: string; manifest: Manifest; notice: string | null } {
  const path = resolve(target);
  if (!existsSync(path)) throw new Error(`${target}: no such checkpoint directory`);
  if (!statSync(path).isDirectory()) throw new Error(`${target}: not a directory`);
  // `D/latest` (a symlink) names the generation it points at.
  const genPath = generationNumber(basename(path)) === null ? realpathSync(path) : path;
  const asGen = generationNumber(basename(genPath));
  if (asGen !== null) {
    const store = new Store(dirname(genPath));
    if (!existsSync(join(genPath, 'manifest.json'))) throw new Error(`${target}: no manifest.json: not a committed generation`);
    return { store, generation: asGen, dir: genPath, manifest: store.readManifest(asGen), notice: null };
  }
  const store = new Store(path);
  const { generation, notice } = chooseGeneration(store, target);
  return { store, generation, dir: store.genDir(generation), manifest: store.readManifest(generation), notice };
}
