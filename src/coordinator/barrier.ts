// One checkpoint generation walked through the barriers of docs/protocol.md:
// SUSPEND → SAVE → (commit) → RESUME. Any failure aborts the generation:
// its temporary directory goes, `latest` stays, everyone resumes.
import { join } from 'node:path';
import type { Store } from '../images/store.js';
import type { Manifest, ManifestProcess } from '../images/manifest.js';
import { decodeArg, encodeArg } from './protocol.js';
import type { ProcPeer } from './peer.js';
import { STASIS_VERSION } from '../version.js';

export interface CheckpointResult { generation: number; dir: string; bytes: number; seconds: number }
export interface JobInfo { rm: string; id: string | null }

/** Asks every peer the same kind of question; collects every answer or failure. */
async function barrier(peers: ProcPeer[], message: (p: ProcPeer) => string, expect: string, timeoutMs: number): Promise<string[]> {
  const settled = await Promise.allSettled(peers.map((p) => p.ask(message(p), timeoutMs)));
  const errors: string[] = [];
  const answers: string[] = [];
  settled.forEach((s, i) => {
    const peer = peers[i]!;
    if (s.status === 'rejected') errors.push((s.reason as Error).message);
    else if (s.value.startsWith('FAILED')) errors.push(`${peer.label}: ${decodeArg(s.value.slice(7))}`);
    else if (!s.value.startsWith(expect)) errors.push(`${peer.label} answered '${s.value}' instead of ${expect}`);
    else answers.push(s.value);
  });
  if (errors.length) throw new Error(errors.join('; '));
  return answers;
}

export function imageName(p: ProcPeer): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe(p.info.name)}-${safe(p.info.host)}-${p.info.pid}.img`;
}

export async function runCheckpoint(peers: ProcPeer[], store: Store, generation: number, job: JobInfo,
  timeoutMs: number, log: (s: string) => void): Promise<CheckpointResult> {
  const t0 = process.hrtime.bigint();
  const tmp = store.begin(generation);
  let suspended: ProcPeer[] = [];
  try {
    await barrier(peers, () => `SUSPEND ${generation}`, 'SUSPENDED', timeoutMs);
    suspended = peers;
    const saved = await barrier(peers, (p) => `SAVE ${encodeArg(join(tmp, imageName(p)))}`, 'SAVED ', timeoutMs);
    const processes: ManifestProcess[] = peers.map((p, i) => {
      const [, bytes, checksum] = saved[i]!.split(' ');
      return { pid: p.info.pid, host: p.info.host, name: p.info.name, image: imageName(p), bytes: Number(bytes), checksum: checksum ?? '' };
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const manifest: Manifest = {
      format: 'stasis-manifest', version: 1, generation, createdAt: new Date().toISOString(),
      stasisVersion: STASIS_VERSION,
      job: { rm: job.rm, id: job.id, hosts: [...new Set(peers.map((p) => p.info.host))] },
      seconds, totalBytes: processes.reduce((n, p) => n + p.bytes, 0), processes,
    };
    const dir = store.commit(manifest);
    log(`generation ${generation} committed: ${manifest.totalBytes} bytes, ${processes.length} process(es)`);
    await barrier(peers, () => `RESUME ${generation}`, 'RESUMED', timeoutMs).catch((e: Error) => log(`after commit: ${e.message}`));
    return { generation, dir, bytes: manifest.totalBytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } catch (e) {
    store.abort(generation);
    const alive = (suspended.length ? suspended : peers).filter((p) => !p.closed);
    // Those still busy answering SUSPEND get RESUME 0 right after it: lines queue.
    await barrier(alive, () => 'RESUME 0', 'RESUMED', timeoutMs).catch((err: Error) => log(`resuming after abort: ${err.message}`));
    throw new Error(`checkpoint aborted, generation ${generation} not committed: ${(e as Error).message}`);
  }
}
