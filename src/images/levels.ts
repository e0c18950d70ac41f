// Multi-level storage (--local-dir): a generation commits first in a
// node-local store, L/<job key>/, a store like any other (docs/cli.md); the
// coordinator then copies it to the shared store D in the background and
// commits it there the same way (fsync, manifest, rename, `latest`).
import { copyFile, link, open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { processFiles, type Manifest } from './manifest.js';
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
 * `X.img.gNNNNNN` (generation NNNNNN's image X.img) as `dst`, hard-linked
 * from where `to` holds it: gen-NNNNNN/X.img, or a later generation's link.
 * False when `to` has no copy (then it is copied).
 */
async function linkedFromEarlier(to: Store, name: string, dst: string): Promise<boolean> {
  const m = /^(.*)\.g(\d{6})$/.exec(name);
  if (!m) return false;
  const held = Number(m[2]);
  const places = [join(to.genDir(held), m[1]!), ...to.generations().filter((g) => g > held).reverse().map((g) => join(to.genDir(g), name))];
  for (const place of places) {
    try {
      await stat(place);
      await link(place, dst);
      return true;
    } catch { /* not there: the next place */ }
  }
  return false;
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
    const refs = new Set(manifest.processes.flatMap((p) => (p.refs ?? []).map((f) => f.name)));
    for (const name of manifest.processes.flatMap(processFiles)) {
      // A referenced image is linked from the copy `to` already has (incremental images).
      if (refs.has(name) && await linkedFromEarlier(to, name, join(tmp, name))) continue;
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
