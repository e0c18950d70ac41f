// Which generation `stasis restart D` (and so `stasis run`) restores: the
// one chooseGeneration picks, if every byte of it verifies; else the newest
// older committed one that does, with a one-line notice naming what was
// skipped and why. Verified by the loader's own check (stasis-restart
// --verify: every record's CRC-32C) and each side file's checksum, before
// anything is restored: a damaged newest generation costs the work since the
// one before, never the job.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loaderPath } from '../native.js';
import { verifySideFile } from './inspect.js';
import { checkAgainstManifest } from './manifest-check.js';
import { generationName, generationNumber, type Manifest } from './manifest.js';
import { chooseGeneration, resolveGeneration, Store } from './store.js';
import { localLevel } from './levels.js';

export interface VerifyProgress { generation: number; image: number; images: number; bytes: number; total: number }

/** The loader's verdict on one image: null, or its one-line complaint. */
function loaderVerify(image: string): Promise<string | null> {
  return new Promise((res) => {
    const child = spawn(loaderPath, ['--verify', image], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => res(`${loaderPath}: ${e.message}`));
    child.on('exit', (code) => res(code === 0 ? null
      : err.trim().split('\n').at(-1)?.replace(/^stasis-restart: /, '') || `${image}: not verified (exit ${code})`));
  });
}

/**
 * A file's identity as the loader takes it in STASIS_VERIFIED (device,
 * inode, size, modification and change times in ns): a file written since
 * has another, and is verified again (native/restart/main.c).
 */
export function fileIdentity(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch { return null; }
}

/**
 * Every byte of generation `dir` against its manifest; throws one line at
 * the first damage. Returns the identities of the image files verified,
 * each unchanged from before its verification to after it.
 */
export async function verifyGeneration(dir: string, manifest: Manifest, progress?: (p: VerifyProgress) => void): Promise<string[]> {
  checkAgainstManifest(dir, manifest);
  const sizes = manifest.processes.map((p) => p.bytes + [...p.files ?? [], ...p.refs ?? []].reduce((n, f) => n + f.bytes, 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  let bytes = 0;
  const verified: string[] = [];
  for (const [i, p] of manifest.processes.entries()) {
    progress?.({ generation: manifest.generation, image: i, images: manifest.processes.length, bytes, total });
    const files = [join(dir, p.image), ...(p.refs ?? []).map((f) => join(dir, f.name))];
    const before = files.map(fileIdentity);
    const why = await loaderVerify(files[0]!);
    if (why) throw new Error(why);
    files.forEach((f, k) => { const id = fileIdentity(f); if (id && id === before[k]) verified.push(id); });
    for (const f of p.files ?? []) await verifySideFile(dir, f);
    bytes += sizes[i]!;
  }
  progress?.({ generation: manifest.generation, image: manifest.processes.length, images: manifest.processes.length, bytes, total });
  return verified;
}

export interface Restorable {
  store: Store; generation: number; dir: string; manifest: Manifest;
  notice: string | null;   // one line: which generation and why, when not simply the newest
  verified: string[];      // identities of the files verified (fileIdentity), for the loader's STASIS_VERIFIED
}

/**
 * Work that needs only the candidate's manifest (restart: its coordinator,
 * whose Node start would otherwise follow the verification): started as its
 * verification starts, run beside it; undone if the verification fails.
 */
export interface Alongside<T> { start(c: Omit<Restorable, 'notice' | 'verified'>): Promise<T>; undo(started: T): Promise<void> }

/** A failure of the work alongside: the restart's, not the generation's (no older one is tried). */
class AlongsideFailed extends Error { constructor(readonly why: unknown) { super('alongside'); } }

/** Verifies while `alongside` runs; both must succeed; its result, undone when the verification failed. */
async function verifyAlongside<T>(c: Omit<Restorable, 'notice' | 'verified'>, progress: ((p: VerifyProgress) => void) | undefined, alongside?: Alongside<T>):
  Promise<{ started?: T; verified: string[] }> {
  const started = alongside?.start(c);
  started?.catch(() => {});   // awaited below, after the verification
  let verified: string[];
  try {
    verified = await verifyGeneration(c.dir, c.manifest, progress);
  } catch (e) {
    if (started) await started.then((t) => alongside!.undo(t), () => {});
    throw e;
  }
  return { verified, started: started ? await started.catch((e) => { throw new AlongsideFailed(e); }) : undefined };
}

/**
 * `target` names a generation (gen-NNNNNN, D/latest): that one, verified.
 * A store: its chosen generation, or the newest older one that verifies.
 */
export async function chooseRestorable<T = undefined>(target: string, progress?: (p: VerifyProgress) => void, alongside?: Alongside<T>):
  Promise<Restorable & { started?: T }> {
  const path = resolve(target);
  if (!existsSync(path)) throw new Error(`${target}: no such checkpoint directory`);
  if (!statSync(path).isDirectory()) throw new Error(`${target}: not a directory`);
  if (generationNumber(basename(realpathSync(path))) !== null) {
    const named = resolveGeneration(target);
    try {
      return { ...named, ...await verifyAlongside(named, progress, alongside) };
    } catch (e) { throw e instanceof AlongsideFailed ? e.why : e; }
  }
  const store = new Store(path);
  const local = localLevel(path);
  const chosenAt = (s: Store | null, shown: string) => { try { return s ? chooseGeneration(s, shown) : null; } catch { return null; } };
  const shared = chosenAt(store, target);
  const near = chosenAt(local, local?.dir ?? '');
  if (!shared && !near) chooseGeneration(store, target);   // throws the one line saying why
  // The newest at either level; the local copy of a generation both hold (same bytes, read faster).
  const fromLocal = near !== null && (shared === null || near.generation >= shared.generation);
  const { generation: chosen, notice } = fromLocal ? near : shared!;
  const skipped: string[] = [];
  const older = (s: Store | null) => (s ? s.generations().filter((g) => g < chosen).map((g) => ({ level: s, g })) : []);
  const candidates = [{ level: fromLocal ? local! : store, g: chosen },
    ...[...older(local), ...older(store)].sort((a, b) => b.g - a.g || (a.level === local ? -1 : 1))];
  for (const { level, g } of candidates) {
    const where = level === store ? target : `${level.dir} (the local level)`;
    try {
      const manifest = level.readManifest(g);
      const { started, verified } = await verifyAlongside({ store, generation: g, dir: level.genDir(g), manifest }, progress, alongside);
      const why = [notice?.replace(/^using gen-\d+ of .*?: /, ''), ...skipped].filter(Boolean);
      if (level === local && (shared?.generation ?? 0) < g) why.push(`${target} has ${shared ? `up to ${generationName(shared.generation)}` : 'none'} (not flushed yet)`);
      return { store, generation: g, dir: level.genDir(g), manifest, started, verified,
        notice: why.length ? `using ${generationName(g)} of ${where}: ${why.join('; ')}` : notice };
    } catch (e) {
      if (e instanceof AlongsideFailed) throw e.why;
      skipped.push(`${generationName(g)}${level === local ? ` of ${where}` : ''} is not restorable (${(e as Error).message})`);
    }
  }
  throw new Error(`${target}: no restorable generation: ${skipped.join('; ')}`);
}
