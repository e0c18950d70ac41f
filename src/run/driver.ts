// The job driver behind `stasis run`: it stays alive for the whole job.
// It starts `stasis launch` (first time) or `stasis restart D` (a committed
// generation exists) as its child, in a session of its own so that a
// terminal's Ctrl-C reaches only the driver, and on the end-of-job signal
// checkpoints (processes killed still suspended: nothing runs past the
// checkpoint), then requeues the job or stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';
import { CommandClient, locate } from '../coordinator/client.js';
import { liveCoordinator, pidAlive } from '../coordinator/publish.js';
import { generationName } from '../images/manifest.js';
import { chooseGeneration, Store } from '../images/store.js';
import { localLevel } from '../images/levels.js';
import { repoRoot } from '../native.js';
import type { ResourceManager } from '../rm/index.js';
import { requeue } from '../rm/verbs.js';
import { readRunRecord, writeRunRecord, type RunRecord } from './record.js';
import { replaceDeadCoordinator } from './replace-coordinator.js';

export interface RunOptions {
  dir: string;
  argv: string[];
  interval?: number;
  keep?: number;
  maxRestarts?: number;
  rm: ResourceManager;
  coordHost?: string;
  compress?: string;
  localDir?: string;   // --local-dir, for the launch (restart reads it from settings.json)
}

const stasisBin = join(repoRoot, 'bin', 'stasis.js');
const say = (s: string) => process.stderr.write(`stasis: ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A driver that still runs: same host, and its pid is a `stasis run`. */
function driverAlive(d: RunRecord['driver']): boolean {
  if (!d || d.host !== hostname() || d.pid === process.pid || !pidAlive(d.pid)) return false;
  try { return readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').split('\0').includes('run'); } catch { return false; }
}

/** The newest committed generation at either level (D, or the local level its settings name). */
function committedGeneration(store: Store): number | null {
  const at = (s: Store | null) => { try { return s ? chooseGeneration(s).generation : null; } catch { return null; } };
  const shared = at(store);
  const local = at(localLevel(store.dir));
  return shared === null ? local : Math.max(shared, local ?? 0);
}

/** Decides launch or restart, refusing anything that could lose a saved generation. */
function plan(o: RunOptions): { restart: boolean; record: RunRecord } {
  const store = new Store(o.dir);
  store.ensure();
  const rec = readRunRecord(o.dir);
  const gen = committedGeneration(store);
  if (rec && JSON.stringify(rec.command) !== JSON.stringify(o.argv))
    throw new Error(`${o.dir} holds checkpoints of another command (${rec.command.join(' ')}): give another --ckpt-dir`);
  if (!rec && gen !== null)
    throw new Error(`${o.dir} holds checkpoints not made by stasis run: resume them with stasis restart ${o.dir}, or give another --ckpt-dir`);
  if (rec && driverAlive(rec.driver))
    throw new Error(`another stasis run (pid ${rec.driver!.pid}) drives ${o.dir}`);
  if (rec?.finished)
    throw new Error(`${o.dir}: this command already finished (${rec.finished.at}); its last generation is kept there. Give another --ckpt-dir to run it anew`);
  const restarts = rec?.restarts ?? 0;
  if (gen !== null && o.maxRestarts !== undefined && restarts >= o.maxRestarts)
    throw new Error(`${o.dir} was restarted ${restarts} time(s), --max-restarts ${o.maxRestarts}: not restarting again; its generations are kept`);
  return {
    restart: gen !== null,
    record: { command: o.argv, restarts: restarts + (gen !== null ? 1 : 0), driver: { pid: process.pid, host: hostname() }, finished: null },
  };
}

function childArgv(o: RunOptions, restart: boolean): string[] {
  const opt = (name: string, v: number | undefined) => (v === undefined ? [] : [`--${name}`, String(v)]);
  const common = [...opt('interval', o.interval), ...opt('keep', o.keep), ...(o.coordHost ? ['--coord-host', o.coordHost] : [])];
  // Compression is the job's from its launch on (restart keeps it: docs/cli.md).
  return restart ? [stasisBin, 'restart', ...common, o.dir]
    : [stasisBin, 'launch', '--ckpt-dir', o.dir, ...common, ...(o.compress ? ['--compress', o.compress] : []),
      ...(o.localDir ? ['--local-dir', o.localDir] : []), '--', ...o.argv];
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

function statusOf(e: Exit): number {
  return e.code ?? 128 + (e.signal ? constants.signals[e.signal] ?? 0 : 0);
}

export async function drive(o: RunOptions): Promise<number> {
  const { restart, record } = plan(o);
  writeRunRecord(o.dir, record);
  // Under a scheduler, its SIGTERM reaches every process of the job: the
  // command and its coordinator hold it until we have checkpointed them.
  // STASIS_RUN_DRIVER: if we die without a word, the coordinator checkpoints and stops the job.
  const env: NodeJS.ProcessEnv = { ...process.env, STASIS_RUN_DRIVER: String(process.pid) };
  if (o.rm.kind !== 'local') env.STASIS_HOLD_TERM = '1';
  const child = spawn(process.execPath, childArgv(o, restart), { stdio: 'inherit', detached: true, env });
  let ended: Exit | null = null;
  const exited = new Promise<Exit>((res) => child.on('exit', (code, signal) => res(ended = { code, signal })));
  const stopSignals = new Set<NodeJS.Signals>(['SIGTERM', 'SIGINT', o.rm.endSignal.signal]);
  let stopping: Promise<number> | null = null;
  const onSignal = (sig: NodeJS.Signals) => { stopping ??= stop(o, sig, child, exited, ended); };
  for (const sig of stopSignals) process.on(sig, onSignal);
  const coordinatorWatch = child.pid ? replaceDeadCoordinator(o.dir, child.pid, stasisBin, env, () => stopping !== null, say, o) : null;
  const end = await exited;
  coordinatorWatch?.stop();
  // Under a scheduler, the job's end also kills the command (SIGTERM to every
  // process of the job); our own signal may be a moment behind.
  if (!stopping && o.rm.kind !== 'local' && (end.signal === 'SIGTERM' || end.signal === 'SIGKILL')) await sleep(1000);
  if (stopping) return stopping;
  const status = statusOf(end);
  // Killed by someone else (OOM killer, kill -9): say what there is to resume from.
  // Its coordinator may still be committing a checkpoint it had written: let it finish first.
  if (end.signal) for (let t = 0; t < 30_000 && liveCoordinator(o.dir); t += 100) await sleep(100);
  if (end.signal) say(`the command was killed by ${end.signal}; ${newestText(o.dir)}: run the same command again to resume from it`);
  writeRunRecord(o.dir, { ...record, driver: null, finished: status === 0 ? { at: new Date().toISOString() } : null });
  return status;
}

/** Checkpoints and kills the job; the new generation, or why there is none. */
async function checkpointAndKill(dir: string): Promise<{ generation: number } | { error: string }> {
  if (!liveCoordinator(dir)) return { error: 'no coordinator is running (the command had not started or was gone)' };
  let client: CommandClient | null = null;
  try {
    client = await CommandClient.open(locate({ ckptDir: dir }));
    const words = await client.request('CHECKPOINT', 'KILL');
    return { generation: Number(words[1]) };
  } catch (e) {
    // Not checkpointed: the job stops all the same (the scheduler or the user asked).
    try { await client?.request('KILL'); } catch { /* gone */ }
    return { error: (e as Error).message };
  } finally { client?.close(); }
}

function newestText(dir: string): string {
  const newest = committedGeneration(new Store(dir));
  return newest !== null ? `${generationName(newest)} in ${dir} is the newest generation` : `no generation in ${dir} yet`;
}

async function stop(o: RunOptions, sig: NodeJS.Signals, child: ChildProcess, exited: Promise<Exit>, ended: Exit | null): Promise<number> {
  const store = new Store(o.dir);
  // Without a coordinator (it died) nobody else stops the command: no point waiting for it.
  const coordinated = liveCoordinator(o.dir) !== null;
  // A scheduler's SIGTERM reaches every process of the job: the command may be gone already.
  const r = ended ? { error: `the command was already gone (${ended.signal ?? `exit ${ended.code}`})` } : await checkpointAndKill(o.dir);
  // Anything left of the command's session (the loader, a process that missed KILL).
  const gone = await Promise.race([exited.then(() => true), sleep(coordinated ? 10_000 : 0).then(() => false)]);
  if (!gone && child.pid) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } await exited; }
  const rec = readRunRecord(o.dir);
  if (rec) writeRunRecord(o.dir, { ...rec, driver: null });
  const newest = committedGeneration(store);
  const saved = 'generation' in r ? `checkpointed ${generationName(r.generation)} into ${o.dir}`
    : `checkpoint failed (${r.error}); ${newest !== null ? `${generationName(newest)} in ${o.dir} is the newest` : `no generation in ${o.dir} yet`}`;
  if (o.rm.requeueArgv()) {
    const q = await requeue(o.rm, { timeoutMs: 30_000 });
    const why = q.stderr.join(' ').trim();
    // Preemption and `scontrol requeue` requeue the job before its processes get SIGTERM.
    if (q.exitCode === 0 || /pending execution|already/i.test(why)) {
      const how = q.exitCode === 0 ? `job requeued (${q.argv.join(' ')})` : 'the job was already requeued';
      say(`${sig}: ${saved}; ${how}, it resumes when it runs again`);
      return 0;
    }
    say(`${sig}: ${saved}; requeue failed (${q.argv.join(' ')}: ${why || `exit ${q.exitCode}`}): resubmit the job to resume`);
    return 1;
  }
  say(`${sig}: ${saved}; stopped. Run the same command again to resume`);
  return 128 + (constants.signals[sig] ?? 0);
}
