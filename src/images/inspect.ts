// `stasis inspect`: what a checkpoint directory, a generation or one image
// holds, after verifying every byte of it. A generation is also checked
// against its manifest: each image's size and checksum must match, and so
// must each side file's (X.img.pipes ..., shm-*.data), whose own trailer is
// checked too.
import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { chooseGeneration, Store } from './store.js';
import { generationNumber, parseManifest, type Manifest, type ManifestFile } from './manifest.js';
import { crc32c, formatChecksum } from './crc32c.js';

const TRAILER_BYTES = 20;   // "end crc32c:xxxxxxxx\n"
import { imageChecksumMatches } from './image-records.js';
import { ImageError, readImage, type ImageSummary } from './reader.js';

/** One verified image, with the figures people look at first. */
export interface ProcessReport {
  pid: number;
  host: string;
  name: string;
  image: string;
  bytes: number;
  checksum: string;
  threads: number;
  regions: number;
  memoryBytes: number;       // memory saved (raw PAGES and REF)
  mappedBytes: number;
  zeroElidedBytes: number;
  compressionRatio: number;  // raw PAGES bytes / stored PAGES bytes (of this file)
  referencedBytes: number;   // memory held by older images that REF records name
  referencedFiles: string[]; // those images, linked beside this one
  fileMappedBytes: number;   // private file mappings restored from their file (MAPFILE), not stored
  mappedFiles: string[];     // those files
  files: ManifestFile[];     // side files beside the image, verified
  detail: ImageSummary;
}

export type InspectReport =
  | { kind: 'generation'; dir: string; generation: number; createdAt: string; job: Manifest['job'];
      totalBytes: number; verified: true; processes: ProcessReport[] }
  | { kind: 'image'; path: string; verified: true; processes: ProcessReport[] };

function report(summary: ImageSummary, fromManifest?: { pid: number; host: string; name: string }): ProcessReport {
  const t = summary.totals;
  const meta = summary.meta;
  return {
    pid: fromManifest?.pid ?? meta?.pid ?? summary.header.pid,
    host: fromManifest?.host ?? meta?.host ?? '',
    name: fromManifest?.name ?? (meta?.exe ? basename(meta.exe) : ''),
    image: basename(summary.path),
    bytes: t.fileBytes,
    checksum: summary.checksum,
    threads: Array.isArray(meta?.threads) ? meta.threads.length : 0,
    regions: summary.regions.length,
    memoryBytes: t.savedBytes,
    mappedBytes: t.mappedBytes,
    zeroElidedBytes: t.zeroElidedBytes,
    compressionRatio: t.storedBytes ? (t.savedBytes - t.referencedBytes) / t.storedBytes : 1,
    referencedBytes: t.referencedBytes,
    referencedFiles: summary.referencedFiles,
    fileMappedBytes: t.fileMappedBytes,
    mappedFiles: [...new Set(summary.regions.filter((r) => r.mappedFile).map((r) => r.path))],
    files: [],
    detail: summary,
  };
}

async function kindOf(path: string): Promise<'dir' | 'file'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: no such file or directory` : `${path}: ${(e as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}


/**
 * A side file (docs/image-format.md, "Side files"): its size, trailer and checksum against the manifest's.
 * Read in pieces: a shm-*.data file can be as large as the memory it holds.
 */
export async function verifySideFile(dir: string, f: ManifestFile): Promise<void> {
  const path = join(dir, f.name);
  const file = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${path}: ${e.code === 'ENOENT' ? 'missing, though the manifest lists it' : e.message}`);
  });
  try {
    const size = (await file.stat()).size;
    if (size !== f.bytes) throw new ImageError(path, 'corrupt', `${size} bytes but the manifest says ${f.bytes}`);
    const body = Math.max(0, size - TRAILER_BYTES);
    const buf = Buffer.alloc(1 << 20);
    let crc = 0;
    for (let at = 0; at < body;) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, body - at), at);
      if (bytesRead === 0) throw new ImageError(path, 'truncated', `the file ends at ${at} bytes while being read`);
      crc = crc32c(crc, buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    const { bytesRead } = await file.read(buf, 0, size - body, body);
    const trailer = buf.subarray(0, bytesRead).toString('latin1');
    const sum = formatChecksum(crc);
    if (size < TRAILER_BYTES || trailer !== `end ${f.checksum}\n` || sum !== f.checksum)
      throw new ImageError(path, 'corrupt', `checksum ${sum} but the manifest says ${f.checksum}`);
  } finally {
    await file.close();
  }
}

async function inspectGeneration(dir: string): Promise<InspectReport> {
  const manifestPath = join(dir, 'manifest.json');
  const manifest = parseManifest(await readFile(manifestPath, 'utf8'), manifestPath);
  const processes: ProcessReport[] = [];
  for (const p of manifest.processes) {
    const summary = await readImage(join(dir, p.image));
    if (summary.totals.fileBytes !== p.bytes)
      throw new ImageError(summary.path, 'corrupt', `${summary.totals.fileBytes} bytes but the manifest says ${p.bytes}`);
    if (!imageChecksumMatches(summary, p.checksum))
      throw new ImageError(summary.path, 'corrupt', `checksum ${summary.checksum} but the manifest says ${p.checksum}`);
    for (const f of p.files ?? []) await verifySideFile(dir, f);
    const listed = new Set((p.refs ?? []).map((f) => f.name));
    const unlisted = summary.referencedFiles.find((n) => !listed.has(n));
    if (unlisted) throw new ImageError(summary.path, 'corrupt', `refers to ${unlisted}, which the manifest does not list`);
    processes.push({ ...report(summary, p), files: p.files ?? [] });
  }
  return {
    kind: 'generation', dir, generation: manifest.generation, createdAt: manifest.createdAt, job: manifest.job,
    totalBytes: manifest.totalBytes, verified: true, processes,
  };
}

/** One image; when its generation's manifest lists it, its side files too. */
async function inspectImage(path: string): Promise<InspectReport> {
  const summary = await readImage(path);
  const manifestPath = join(dirname(path), 'manifest.json');
  const entry = (await exists(manifestPath))
    ? parseManifest(await readFile(manifestPath, 'utf8'), manifestPath).processes.find((p) => p.image === basename(path))
    : undefined;
  for (const f of entry?.files ?? []) await verifySideFile(dirname(path), f);
  return { kind: 'image', path, verified: true, processes: [{ ...report(summary, entry), files: entry?.files ?? [] }] };
}

/**
 * Verifies and describes a checkpoint directory (the generation restart
 * would use: see chooseGeneration), a generation directory or an image file.
 * `notice` gets the one line saying which generation is used and why, if
 * that is not simply `latest`.
 */
export async function inspect(target: string, notice: (line: string) => void = () => undefined): Promise<InspectReport> {
  const path = resolve(target);
  if ((await kindOf(target)) === 'file') return inspectImage(path);
  if (await exists(join(path, 'manifest.json'))) return inspectGeneration(path);
  // A generation directory (or D/latest) without its manifest: refused, as restart refuses it.
  if (generationNumber(basename(await realpath(path))) !== null)
    throw new Error(`${target}: no manifest.json: not a committed generation`);
  const store = new Store(path);
  const chosen = chooseGeneration(store, target);
  if (chosen.notice) notice(chosen.notice);
  return inspectGeneration(store.genDir(chosen.generation));
}
