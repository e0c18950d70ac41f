// The generation manifest (docs/image-format.md, "manifest.json"): its shape
// and a strict parser, so a damaged manifest is refused with a clear message.

/** A side file its process wrote beside the image (`X.img.pipes`), or in the
 *  generation directory under a name of its own, for every process (`shm-*.data`). */
export interface ManifestFile {
  name: string;       // file name inside the generation directory
  bytes: number;
  checksum: string;   // "crc32c:xxxxxxxx" over the file without its trailer line
}

export interface ManifestProcess {
  pid: number;
  host: string;       // where it ran at the checkpoint
  origin?: string;    // the host its pids come from (absent: host); (origin, pid) is unique
  name: string;
  image: string;      // file name inside the generation directory
  bytes: number;
  checksum: string;   // "crc32c:xxxxxxxx" over all record headers
  ppid?: number;      // parent, process group and session as the program saw them
  pgid?: number;
  sid?: number;
  files?: ManifestFile[];
  /** Incremental images: older images this one has REF records to, hard-linked
   *  here as `<image>.gNNNNNN`; bytes and checksum as an image's (over its record headers). */
  refs?: ManifestFile[];
  /** A copy of the process wrote its image while it ran on (--forked); absent:
   *  written with the process stopped (not forked, or it fell back, or chose to). */
  forked?: true;
}

/** Every file of a process in its generation directory: image, side files, referenced images. */
export function processFiles(p: ManifestProcess): string[] {
  return [p.image, ...(p.files ?? []).map((f) => f.name), ...(p.refs ?? []).map((f) => f.name)];
}

export interface Manifest {
  format: 'stasis-manifest';
  version: 1;
  generation: number;
  createdAt: string;
  stasisVersion: string;
  job: { rm: string; id: string | null; hosts: string[] };
  seconds: number;
  totalBytes: number;
  processes: ManifestProcess[];
}

/** The host a process's pids come from: a manifest from before origins names only `host`. */
export function originOf(p: ManifestProcess): string {
  return p.origin ?? p.host;
}

export const GEN_PREFIX = 'gen-';

/** `gen-000042` for 42. */
export function generationName(generation: number): string {
  return `${GEN_PREFIX}${String(generation).padStart(6, '0')}`;
}

/** 42 for `gen-000042`, null for anything else. */
export function generationNumber(name: string): number | null {
  const m = /^gen-(\d{6,})$/.exec(name);
  return m ? Number(m[1]) : null;
}

function fail(where: string, what: string): never {
  throw new Error(`${where}: corrupt manifest: ${what}`);
}

/** Parses manifest.json text; `where` names the file in error messages. */
export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { fail(where, (e as Error).message); }
  const m = raw as Partial<Manifest>;
  if (!m || typeof m !== 'object' || m.format !== 'stasis-manifest') fail(where, 'not a stasis manifest');
  if (m.version !== 1) fail(where, `unsupported version ${String(m.version)}`);
  if (!Number.isInteger(m.generation) || (m.generation ?? 0) < 1) fail(where, 'bad generation');
  if (!Array.isArray(m.processes) || m.processes.length === 0) fail(where, 'no processes');
  for (const p of m.processes) {
    if (!p || typeof p.image !== 'string' || p.image.includes('/') || !Number.isInteger(p.pid)
        || !Number.isInteger(p.bytes) || !/^crc32c:[0-9a-f]{8}$/.test(String(p.checksum)))
      fail(where, `bad process entry ${JSON.stringify(p)}`);
    if (p.files !== undefined && (!Array.isArray(p.files) || p.files.some((f) => !f || typeof f.name !== 'string'
        || !(f.name.startsWith(`${p.image}.`) || /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(f.name))
        || f.name.includes('/') || f.name === 'manifest.json' || !Number.isInteger(f.bytes)
        || !/^crc32c:[0-9a-f]{8}$/.test(String(f.checksum)))))
      fail(where, `bad side files of ${p.image}: ${JSON.stringify(p.files)}`);
    if (p.refs !== undefined && (!Array.isArray(p.refs) || p.refs.some((f) => !f || typeof f.name !== 'string'
        || !/^\.g\d{6}$/.test(f.name.slice(p.image.length)) || !f.name.startsWith(p.image) || !Number.isInteger(f.bytes)
        || !/^crc32c:[0-9a-f]{8}$/.test(String(f.checksum)))))
      fail(where, `bad referenced images of ${p.image}: ${JSON.stringify(p.refs)}`);
    if (p.origin !== undefined && (typeof p.origin !== 'string' || !p.origin)) fail(where, `bad origin of ${p.image}: ${JSON.stringify(p.origin)}`);
  }
  // A virtual pid is unique within its origin host: two entries for one would restore one process twice.
  const seen = new Set<string>();
  for (const p of m.processes) {
    const id = `${originOf(p)}/${p.pid}`;
    if (seen.has(id)) fail(where, `process ${p.pid} of ${originOf(p)} listed twice`);
    seen.add(id);
  }
  return m as Manifest;
}
