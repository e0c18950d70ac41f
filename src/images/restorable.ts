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

/** Every byte of generation `dir` against its manifest; throws one line at the first damage. */
export async function verifyGeneration(dir: string, manifest: Manifest, progress?: (p: VerifyProgress) => void): Promise<void> {
  checkAgainstManifest(dir, manifest);
  const sizes = manifest.processes.map((p) => p.bytes + [...p.files ?? [], ...p.refs ?? []].reduce((n, f) => n + f.bytes, 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  let bytes = 0;
  for (const [i, p] of manifest.processes.entries()) {
    progress?.({ generation: manifest.generation, image: i, images: manifest.processes.length, bytes, total });
    const why = await loaderVerify(join(dir, p.image));
    if (why) throw new Error(why);
    for (const f of p.files ?? []) await verifySideFile(dir, f);
    bytes += sizes[i]!;
  }
  progress?.({ generation: manifest.generation, image: manifest.processes.length, images: manifest.processes.length, bytes, total });
}

export interface Restorable {
  store: Store; generation: number; dir: string; manifest: Manifest;
  notice: string | null;   // one line: which generation and why, when not simply the newest
}

/**
 * `target` names a generation (gen-NNNNNN, D/latest): that one, verified.
 * A store: its chosen generation, or the newest older one that verifies.
 */
export async function chooseRestorable(target: string, progress?: (p: VerifyProgress) => void): Promise<Restorable> {
  const path = resolve(target);
  if (!existsSync(path)) throw new Error(`${target}: no such checkpoint directory`);
  if (!statSync(path).isDirectory()) throw new Error(`${target}: not a directory`);
  if (generationNumber(basename(realpathSync(path))) !== null) {
    const named = resolveGeneration(target);
    await verifyGeneration(named.dir, named.manifest, progress);
    return named;
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
      await verifyGeneration(level.genDir(g), manifest, progress);
      const why = [notice?.replace(/^using gen-\d+ of .*?: /, ''), ...skipped].filter(Boolean);
      if (level === local && (shared?.generation ?? 0) < g) why.push(`${target} has ${shared ? `up to ${generationName(shared.generation)}` : 'none'} (not flushed yet)`);
      return { store, generation: g, dir: level.genDir(g), manifest,
        notice: why.length ? `using ${generationName(g)} of ${where}: ${why.join('; ')}` : notice };
    } catch (e) {
      skipped.push(`${generationName(g)}${level === local ? ` of ${where}` : ''} is not restorable (${(e as Error).message})`);
    }
  }
  throw new Error(`${target}: no restorable generation: ${skipped.join('; ')}`);
}
