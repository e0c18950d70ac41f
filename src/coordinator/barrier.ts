// One checkpoint generation walked through the barriers of docs/protocol.md:
// SUSPEND → DRAIN → SAVE → (commit) → RESUME. Any failure aborts the generation:
// everyone resumes first, then its temporary directory goes (a failure to
// remove it is only logged), and `latest` stays.
import { join } from 'node:path';
import type { Store } from '../images/store.js';
import type { Manifest, ManifestProcess } from '../images/manifest.js';
import { decodeArg, encodeArg } from './protocol.js';
import type { ProcPeer } from './peer.js';
import { STASIS_VERSION } from '../version.js';
import { isExecing } from './procfs.js';

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

/**
 * SUSPEND for everyone, including processes that join while it runs (a
 * forked child joins before its parent can stop, so it is never missed).
 * A process that exits before it stopped is simply not part of this
 * generation. Returns the processes that stopped.
 */
async function suspendAll(peers: ProcPeer[], generation: number, late: () => ProcPeer[], timeoutMs: number,
  log: (s: string) => void, stopped: ProcPeer[]): Promise<void> {
  let pending = peers;
  const errors: string[] = [];
  let execing: ProcPeer[] = [];
  for (;;) {
    if (!pending.length && execing.length) {
      pending = await newImages(execing, late);
      if (!pending.length) execing = [];   // ended, or an image that never joins (static)
    }
    if (!pending.length) break;
    const asked = pending;
    const settled = await Promise.allSettled(asked.map((p) => p.ask(`SUSPEND ${generation}`, timeoutMs)));
    settled.forEach((s, i) => {
      const peer = asked[i]!;
      if (s.status === 'fulfilled' && s.value === 'SUSPENDED') stopped.push(peer);
      else if (s.status === 'rejected' && peer.closed && isExecing(peer.info.host, peer.info.kernelPid)) execing.push(peer);
      else if (s.status === 'rejected' && peer.closed) log(`${peer.label} exited before it stopped: not in generation ${generation}`);
      else if (s.status === 'rejected') errors.push((s.reason as Error).message);
      else if (s.value.startsWith('FAILED')) errors.push(`${peer.label}: ${decodeArg(s.value.slice(7))}`);
      else errors.push(`${peer.label} answered '${s.value}' instead of SUSPENDED`);
    });
    pending = late();
    execing = execing.filter((p) => !pending.some((q) => q.info.kernelPid === p.info.kernelPid));
  }
  if (errors.length) throw new Error(errors.join('; '));
  if (!stopped.length) throw new Error('every process exited before it stopped');
}

/**
 * Processes that left while exec'ing: wait (up to 5 s) for their new images
 * to join, or for them to end, so the generation does not miss them.
 */
async function newImages(execing: ProcPeer[], late: () => ProcPeer[]): Promise<ProcPeer[]> {
  for (let waited = 0; waited < 5000; waited += 20) {
    const joined = late();
    if (joined.length) return joined;
    if (!execing.some((p) => isExecing(p.info.host, p.info.kernelPid))) return [];
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

/**
 * "SAVED bytes checksum ppid pgid sid [suffix:bytes:crc32c:xxxxxxxx...]": the
 * image, where the process sits in the tree, and the side files beside the image
 * (`/NAME:...`: a file of its own name in the generation directory, e.g. shm-*.data).
 */
function savedEntry(p: ProcPeer, answer: string): ManifestProcess {
  const [, bytes, checksum, ppid, pgid, sid, ...sides] = answer.split(' ');
  const image = imageName(p);
  const entry: ManifestProcess = { pid: p.info.pid, host: p.info.host, name: p.info.name, image,
    bytes: Number(bytes), checksum: checksum ?? '' };
  if (ppid !== undefined) Object.assign(entry, { ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid) });
  const files = sides.filter((s) => s).map((s) => {
    const m = /^(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*|[A-Za-z0-9_-]+):(\d+):(crc32c:[0-9a-f]{8})$/.exec(s);
    if (!m || m[1] === '/manifest.json') throw new Error(`${p.label} reported a malformed side file '${s}'`);
    const name = m[1]!.startsWith('/') ? m[1]!.slice(1) : `${image}.${m[1]}`;
    return { name, bytes: Number(m[2]), checksum: m[3]! };
  });
  if (files.length) entry.files = files;
  return entry;
}

export async function runCheckpoint(initial: ProcPeer[], late: () => ProcPeer[], store: Store, generation: number,
  job: JobInfo, timeoutMs: number, log: (s: string) => void): Promise<CheckpointResult> {
  const t0 = process.hrtime.bigint();
  const tmp = store.begin(generation);
  const peers: ProcPeer[] = [];
  try {
    await suspendAll(initial, generation, late, timeoutMs, log, peers);
    // Everyone has stopped: what is in flight between processes can be taken out.
    await barrier(peers, () => 'DRAIN', 'DRAINED', timeoutMs);
    const saved = await barrier(peers, (p) => `SAVE ${encodeArg(join(tmp, imageName(p)))}`, 'SAVED ', timeoutMs);
    const processes = peers.map((p, i) => savedEntry(p, saved[i]!));
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
    const alive = [...new Set([...initial, ...peers, ...late()])].filter((p) => !p.closed);
    // Resume before anything else can fail. Those still busy answering
    // SUSPEND or SAVE get RESUME 0 right after it: lines queue.
    await barrier(alive, () => 'RESUME 0', 'RESUMED', timeoutMs).catch((err: Error) => log(`resuming after abort: ${err.message}`));
    try { store.abort(generation); } catch (err) {
      log(`cannot remove aborted generation ${generation}: ${(err as Error).message} (its number is not used again)`);
    }
    throw new Error(`checkpoint aborted, generation ${generation} not committed: ${(e as Error).message}`);
  }
}
