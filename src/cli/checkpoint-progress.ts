// What `stasis command --checkpoint` shows on a terminal while the
// checkpoint runs: the processes being stopped, then the bytes of the new
// generation written so far (of about the last generation's size) and the
// rate. Read beside the request: the coordinator's STATUS on a second
// connection, the sizes in D/.gen-NNNNNN.tmp.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CommandClient, type Target } from '../coordinator/client.js';
import { decodeArg } from '../coordinator/protocol.js';
import { Store } from '../images/store.js';
import { generationNumber, generationName } from '../images/manifest.js';
import { Progress, rate, size } from './progress.js';

/** The generation being written in `dir` and its bytes so far, or null. */
function writing(dir: string): { generation: number; bytes: number } | null {
  let newest: { generation: number; name: string } | null = null;
  for (const name of readdirSync(dir)) {
    const m = /^\.(gen-\d+)\.tmp$/.exec(name);
    const g = m ? generationNumber(m[1]!) : null;
    if (g !== null && (!newest || g > newest.generation)) newest = { generation: g, name };
  }
  if (!newest) return null;
  let bytes = 0;
  try {
    for (const f of readdirSync(join(dir, newest.name))) bytes += statSync(join(dir, newest.name, f)).size;
  } catch { /* committed or aborted meanwhile */ }
  return { generation: newest.generation, bytes };
}

/** The last committed generation's size: what this one will be about. */
function expected(dir: string): number | null {
  try {
    const store = new Store(dir);
    const g = store.latest();
    return g === null ? null : store.readManifest(g).totalBytes;
  } catch { return null; }
}

/** Starts drawing; the returned function stops and clears. Nothing without a terminal. */
export async function showCheckpointProgress(target: Target, ckptDir: string, progress = new Progress()): Promise<() => void> {
  if (!progress.enabled || !ckptDir) return () => undefined;
  const client = await CommandClient.open(target).catch(() => null);
  if (!client) return () => undefined;
  const total = expected(ckptDir);
  const t0 = Date.now();
  let firstByteAt = 0;
  let stopped = false;
  const tick = async () => {
    while (!stopped) {
      try {
        const s = JSON.parse(decodeArg((await client.request('STATUS'))[1] ?? '')) as { state: string; processes: number };
        const w = s.state === 'checkpointing' ? writing(ckptDir) : null;
        if (w && !stopped) {
          if (w.bytes && !firstByteAt) firstByteAt = Date.now();
          const secs = (Date.now() - (firstByteAt || t0)) / 1000;
          progress.update(w.bytes === 0 ? `stasis: ${generationName(w.generation)}: stopping ${s.processes} process(es)`
            : `stasis: ${generationName(w.generation)}: ${s.processes} process(es) stopped, ${size(w.bytes)}`
              + `${total ? ` of ~${size(total)}` : ''} written, ${rate(w.bytes, secs)}`);
        }
      } catch { return; }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const running = tick();
  return () => { stopped = true; void running.finally(() => client.close()); progress.clear(); };
}
