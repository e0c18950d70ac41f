// Multi-level storage (--local-dir): a generation commits first in a
// node-local store, L/<job key>/, a store like any other (docs/cli.md); the
// coordinator then copies it to the shared store D in the background and
// commits it there the same way (fsync, manifest, rename, `latest`).
import { copyFile, open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Manifest } from './manifest.js';
import { readSettings } from './settings.js';
import { Store } from './store.js';

/** L/<job key>: the key keeps jobs sharing one local dir apart; it is D's real path, hashed. */
export function localStoreOf(localDir: string, ckptDir: string): Store {
  const d = existsSync(ckptDir) ? realpathSync(ckptDir) : resolve(ckptDir);
  const key = `${basename(d).replace(/[^A-Za-z0-9._-]/g, '_')}-${createHash('sha256').update(d).digest('hex').slice(0, 12)}`;
  return new Store(join(resolve(localDir), key));
}

/** The local level of store D as its job runs it (D/settings.json), or null. */
export function localLevel(ckptDir: string): Store | null {
  let dir: string | null | undefined;
  try { dir = readSettings(ckptDir)?.localDir; } catch { return null; }
  return dir ? localStoreOf(dir, ckptDir) : null;
}

/**
 * Copies committed generation `manifest.generation` of `from` into `to` and
 * commits it there. `beforeCommit` is a test pause. Throws one line; the
 * temporary directory in `to` is removed then.
 */
export async function flushGeneration(from: Store, to: Store, manifest: Manifest, beforeCommit?: () => Promise<void>): Promise<void> {
  const g = manifest.generation;
  const src = from.genDir(g);
  const tmp = to.begin(g);
  try {
    for (const name of manifest.processes.flatMap((p) => [p.image, ...(p.files ?? []).map((f) => f.name)])) {
      // Node's copyFile uses copy_file_range: no bytes through this process.
      await copyFile(join(src, name), join(tmp, name));
      // fsynced here, off the event loop: commit's own fsync then finds
      // nothing to write and the coordinator keeps answering meanwhile.
      const fh = await open(join(tmp, name), 'r');
      try { await fh.sync(); } finally { await fh.close(); }
    }
    await beforeCommit?.();
    to.commit(manifest);
  } catch (e) {
    to.abort(g);
    throw e;
  }
}
