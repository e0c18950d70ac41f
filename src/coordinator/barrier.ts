// One checkpoint generation walked through the barriers of docs/protocol.md:
// SUSPEND → DRAIN → SAVE → (commit) → RESUME. Any failure aborts the generation:
// everyone resumes first, then its temporary directory goes (a failure to
// remove it is only logged), and `latest` stays.
import { join } from 'node:path';
import type { Store } from '../images/store.js';
import type { Manifest, ManifestProcess } from '../images/manifest.js';
import { continuedLines, decodeArg, encodeArg } from './protocol.js';
import type { ProcPeer } from './peer.js';
import { STASIS_VERSION } from '../version.js';
import { pairAcrossHosts, parseConns } from './conns.js';
import { testPause, testPauseSync } from './test-pause.js';
import type { SaveMode } from './save-mode.js';
import { cannotJoin, commOf, hasLibstasis, isLocal, runningNotZombie } from './procfs.js';

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
  // The origin, not the host: two old hosts' processes may share one node now.
  return `${safe(p.info.name)}-${safe(p.info.origin)}-${p.info.pid}.img`;
}

/** A process of the job that is neither stopped nor ended: the generation waits for it to join. */
interface Outside { host: string; kernelPid: number; what: string }

const JOIN_GRACE_MS = 5000;   // as long as a new image waits for its own connection (native/core/init.c)

/** A process that joined after every process of the generation had stopped: the generation is retried. */
export class JoinedLate extends Error {}

/**
 * SUSPEND for everyone, including processes that join while it runs (a
 * forked child joins before its parent can stop, so it is never missed).
 * Then every live child a stopped process reported, and every process that
 * left while exec'ing, must have joined and stopped too (or ended): the
 * generation waits for them (their new image joins in a moment), and
 * fails naming any that cannot join (a static program, LD_PRELOAD or
 * STASIS_* removed, no coordinator reached). A process that exits before
 * it stopped is simply not part of this generation. Fills `stopped`.
 */
async function suspendAll(peers: ProcPeer[], generation: number, late: () => ProcPeer[], timeoutMs: number,
  log: (s: string) => void, stopped: ProcPeer[], execingBefore: ProcPeer[]): Promise<void> {
  let pending = peers;
  const errors: string[] = [];
  const children = new Map<ProcPeer, number[]>();
  const exited: ProcPeer[] = [];
  let execing = execingBefore;
  for (;;) {
    if (!pending.length) {
      const outside = outsiders(stopped, children, execing, exited);
      if (!outside.length) break;
      pending = await joinersOf(outside, late);
      if (!pending.length) {   // some may have ended meanwhile
        errors.push(...outsiders(stopped, children, execing, exited).map(notJoined));
        break;
      }
    }
    const asked = pending;
    const settled = await Promise.allSettled(asked.map((p) => p.ask(`SUSPEND ${generation}`, timeoutMs)));
    settled.forEach((s, i) => {
      const peer = asked[i]!;
      if (s.status === 'fulfilled' && /^SUSPENDED( |$)/.test(s.value)) {
        stopped.push(peer);
        children.set(peer, s.value.slice(10).split(',').filter((c) => c).map(Number));
      } else if (s.status === 'rejected' && peer.closed && peer.inExec()) execing = [...execing, peer];
      else if (s.status === 'rejected' && peer.closed) {
        exited.push(peer);
        log(`${peer.label} exited before it stopped: not in generation ${generation}`);
      } else if (s.status === 'rejected') errors.push((s.reason as Error).message);
      else if (s.value.startsWith('FAILED')) errors.push(`${peer.label}: ${decodeArg(s.value.slice(7))}`);
      else errors.push(`${peer.label} answered '${s.value}' instead of SUSPENDED`);
    });
    pending = late();
  }
  if (errors.length) throw new Error(errors.join('; '));
  if (!stopped.length) throw new Error('every process exited before it stopped');
}

/** Processes of the job that have neither stopped in this generation nor ended. */
function outsiders(stopped: ProcPeer[], children: Map<ProcPeer, number[]>, execing: ProcPeer[], exited: ProcPeer[]): Outside[] {
  const key = (host: string, pid: number) => `${host}/${pid}`;
  const accounted = new Set([...stopped, ...exited].map((p) => key(p.info.host, p.info.kernelPid)));
  const out = new Map<string, Outside>();
  for (const [parent, kids] of children) {
    const host = parent.info.host;
    for (const pid of kids) {
      const k = key(host, pid);
      if (accounted.has(k) || out.has(k)) continue;
      if (isLocal(host) && (pid === process.pid || !runningNotZombie(pid))) continue;
      const name = isLocal(host) ? ` (${commOf(pid)})` : '';
      out.set(k, { host, kernelPid: pid, what: `process ${pid}${name} on ${host}, a child of ${parent.label},` });
    }
  }
  for (const p of execing) {
    const k = key(p.info.host, p.info.kernelPid);
    if (!accounted.has(k) && !out.has(k) && p.inExec()) {
      const pid = p.info.kernelPid;
      const comm = isLocal(p.info.host) ? commOf(pid) : '?';
      out.set(k, { host: p.info.host, kernelPid: pid, what: `process ${pid} (${comm}) on ${p.info.host}, exec'd by ${p.label},` });
    }
  }
  return [...out.values()];
}

/**
 * Waits (up to JOIN_GRACE_MS) for processes to join, and returns them; or
 * returns none when the outsiders ended or can never join.
 */
async function joinersOf(outside: Outside[], late: () => ProcPeer[]): Promise<ProcPeer[]> {
  const hopeless = (o: Outside) => isLocal(o.host) && runningNotZombie(o.kernelPid) && cannotJoin(o.kernelPid) !== null;
  for (let waited = 0; waited < JOIN_GRACE_MS; waited += 20) {
    const joined = late();
    if (joined.length) return joined;
    const waiting = outside.filter((o) => !isLocal(o.host) || runningNotZombie(o.kernelPid));
    if (!waiting.length || waiting.some(hopeless)) return [];
    await new Promise((r) => setTimeout(r, 20));
  }
  return late();
}

/** Why each process that left while exec'ing and still runs here is not in the job. */
export function namedOutsiders(execing: ProcPeer[]): string[] {
  return outsiders([], new Map(), execing, []).map(notJoined);
}

function notJoined(o: Outside): string {
  if (!isLocal(o.host)) return `${o.what} is not in the job: it did not join within ${JOIN_GRACE_MS / 1000} s`;
  if (!runningNotZombie(o.kernelPid)) return `${o.what} ended while the generation waited for it to join`;
  const why = cannotJoin(o.kernelPid) ?? (hasLibstasis(o.kernelPid)
    ? `libstasis is loaded but it did not join within ${JOIN_GRACE_MS / 1000} s (made by clone() without exec, or it cannot reach the coordinator)`
    : `it did not join within ${JOIN_GRACE_MS / 1000} s`);
  return `${o.what} is not in the job: ${why}`;
}

/**
 * "SAVED bytes checksum ppid pgid sid [suffix:bytes:crc32c:xxxxxxxx...]": the
 * image, where the process sits in the tree, and the side files beside the image
 * (`/NAME:...`: a file of its own name in the generation directory, e.g. shm-*.data).
 */
function savedEntry(p: ProcPeer, answer: string, forked: boolean): ManifestProcess {
  const [, bytes, checksum, ppid, pgid, sid, ...sides] = answer.split(' ');
  const image = imageName(p);
  const entry: ManifestProcess = { pid: p.info.pid, host: p.info.host, origin: p.info.origin, name: p.info.name, image,
    bytes: Number(bytes), checksum: checksum ?? '' };
  if (ppid !== undefined) Object.assign(entry, { ppid: Number(ppid), pgid: Number(pgid), sid: Number(sid) });
  if (forked) entry.forked = true;
  // "ref:gNNNNNN:bytes:crc32c:x": an older image this one references (incremental, image-format.md).
  const refs = sides.filter((s) => s.startsWith('ref:')).map((s) => {
    const m = /^ref:(g\d{6}):(\d+):(crc32c:[0-9a-f]{8})$/.exec(s);
    if (!m) throw new Error(`${p.label} reported a malformed referenced image '${s}'`);
    return { name: `${image}.${m[1]}`, bytes: Number(m[2]), checksum: m[3]! };
  });
  if (refs.length) entry.refs = refs;
  const files = sides.filter((s) => s && !s.startsWith('ref:')).map((s) => {
    const m = /^(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*|[A-Za-z0-9_-]+):(\d+):(crc32c:[0-9a-f]{8})$/.exec(s);
    if (!m || m[1] === '/manifest.json') throw new Error(`${p.label} reported a malformed side file '${s}'`);
    const name = m[1]!.startsWith('/') ? m[1]!.slice(1) : `${image}.${m[1]}`;
    return { name, bytes: Number(m[2]), checksum: m[3]! };
  });
  if (files.length) entry.files = files;
  return entry;
}

/**
 * A forked save: every process has answered SAVE, so the cut is whole; each
 * runs on (CONTINUE; `ranOn`: the only one did at once, fork-run) while its writer writes, and the generation waits for
 * every writer's SAVED (or FAILED). Processes that join from now on were
 * born after the cut: not in this generation, and no reason to retry it.
 */
async function writersDone(peers: ProcPeer[], answers: string[], timeoutMs: number, late: () => ProcPeer[],
  ranOn: boolean): Promise<string[]> {
  answers.forEach((a, i) => { if (a !== 'SAVING' && !a.startsWith('SAVED ')) throw new Error(`${peers[i]!.label} answered '${a}' instead of SAVED`); });
  if (!ranOn) for (const p of peers) p.send('CONTINUE');
  late();
  const settled = await Promise.allSettled(peers.map((p, i) => (answers[i] === 'SAVING' ? p.next(timeoutMs, 'SAVED') : Promise.resolve(answers[i]!))));
  for (const p of peers) p.keepLines = false;
  const errors: string[] = [];
  const saved = settled.map((s, i) => {
    const peer = peers[i]!;
    if (s.status === 'rejected') errors.push((s.reason as Error).message);
    else if (s.value.startsWith('FAILED')) errors.push(`${peer.label}: ${decodeArg(s.value.slice(7))}`);
    else if (!s.value.startsWith('SAVED ')) errors.push(`${peer.label} sent '${s.value}' instead of SAVED`);
    return s.status === 'fulfilled' ? s.value : '';
  });
  if (errors.length) throw new Error(errors.join('; '));
  return saved;
}

/**
 * `late()` gives the processes that joined since it was last called;
 * `execing` those that left earlier while exec'ing (their new image has not
 * joined yet).
 */
export async function runCheckpoint(initial: ProcPeer[], late: () => ProcPeer[], store: Store, generation: number,
  job: JobInfo, timeoutMs: number, log: (s: string) => void, execing: ProcPeer[] = [], thenKill = false,
  mode: SaveMode = 'stopped'): Promise<CheckpointResult> {
  const t0 = process.hrtime.bigint();
  const tmp = store.begin(generation);
  const peers: ProcPeer[] = [];
  const joinedLate: ProcPeer[] = [];
  try {
    await suspendAll(initial, generation, late, timeoutMs, log, peers, execing);
    await testPause(store.dir, 'suspend', generation, log);
    // Everyone has stopped: which TCP connections join processes on two hosts
    // (each host sees only its own end), then what is in flight between
    // processes can be taken out.
    // On one host nothing pairs: no CONNS round (a process scans its
    // connections at DRAIN then), one round trip less in the pause.
    const oneHost = new Set(peers.map((p) => p.info.host)).size <= 1;
    const conns = oneHost ? peers.map(() => 'CONNS') : await barrier(peers, () => 'CONNS', 'CONNS', timeoutMs);
    const far = pairAcrossHosts(peers.map((p, i) => ({ host: p.info.host, ends: parseConns(conns[i]!) })));
    const farOf = new Map(peers.map((p, i) => [p, far[i]!]));   // not indexOf per peer: n² with 1024 processes
    await barrier(peers, (p) => continuedLines('DRAIN', farOf.get(p)!).join('\n'), 'DRAINED', timeoutMs);
    await testPause(store.dir, 'drain', generation, log);
    // Stopping the job (thenKill): nothing may run past the checkpoint, so nothing is forked.
    const forked = mode === 'forked' && !thenKill;
    for (const p of peers) p.keepLines = forked;
    // The only process of the generation: the cut is whole once it has
    // answered, so it runs on at once (fork-run), no CONTINUE round trip.
    const solo = forked && peers.length === 1;
    const saveMode = solo ? ' fork-run' : forked ? ' fork' : '';
    const answers = await barrier(peers, (p) => `SAVE ${encodeArg(join(tmp, imageName(p)))}${saveMode}`,
      forked ? 'SAV' : 'SAVED ', timeoutMs);
    // One that joined since everyone stopped ran while the others were
    // saved: what it exchanged with them may be half in the images.
    joinedLate.push(...late());
    if (joinedLate.length) throw new JoinedLate(`${joinedLate.map((p) => p.label).join(', ')} joined while the others were saved`);
    const saved = forked ? await writersDone(peers, answers, timeoutMs, late, solo) : answers;
    await testPause(store.dir, 'saved', generation, log);
    // SAVING: the process's copy wrote its image; SAVED at once: written stopped.
    const processes = peers.map((p, i) => savedEntry(p, saved[i]!, forked && answers[i] === 'SAVING'));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const manifest: Manifest = {
      format: 'stasis-manifest', version: 1, generation, createdAt: new Date().toISOString(),
      stasisVersion: STASIS_VERSION,
      job: { rm: job.rm, id: job.id, hosts: [...new Set(peers.map((p) => p.info.host))] },
      seconds, totalBytes: processes.reduce((n, p) => n + p.bytes, 0), processes,
    };
    const dir = store.commit(manifest, (at) => testPauseSync(store.dir, at, generation, log));
    log(`generation ${generation} committed: ${manifest.totalBytes} bytes, ${processes.length} process(es)`);
    await testPause(store.dir, 'committed', generation, log);
    // Stopping the job: killed still suspended, nothing runs past the checkpoint.
    if (thenKill) for (const p of peers) p.send('KILL');
    // (Forked, a process may have ended once its image was reported.)
    else await barrier(peers.filter((p) => !p.closed), () => `RESUME ${generation}`, 'RESUMED', timeoutMs).catch((e: Error) => log(`after commit: ${e.message}`));
    return { generation, dir, bytes: manifest.totalBytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } catch (e) {
    for (const p of peers) p.keepLines = false;
    const alive = [...new Set([...initial, ...peers, ...joinedLate, ...late()])].filter((p) => !p.closed);
    // Resume before anything else can fail. Those still busy answering
    // SUSPEND or SAVE get RESUME 0 right after it: lines queue.
    await barrier(alive, () => 'RESUME 0', 'RESUMED', timeoutMs).catch((err: Error) => log(`resuming after abort: ${err.message}`));
    try { store.abort(generation); } catch (err) {
      log(`cannot remove aborted generation ${generation}: ${(err as Error).message} (its number is not used again)`);
    }
    const Abort = e instanceof JoinedLate ? JoinedLate : Error;
    throw new Abort(`checkpoint aborted, generation ${generation} not committed: ${(e as Error).message}`);
  }
}
