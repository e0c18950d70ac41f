// Running a coordinator until it is done: shared by `stasis coordinator`
// and the lean entry private coordinators start through (private-main.ts).
import { join, resolve } from 'node:path';
import { closeSync, readFileSync, writeSync } from 'node:fs';
import { parseManifest } from '../images/manifest.js';
import { Coordinator } from './server.js';
import { newToken, pidAlive, publish, unpublish, formatAddress } from './publish.js';
import { waitForPrevious } from './spawn.js';
import { Store } from '../images/store.js';
import { currentJobInfo } from './job-info.js';
import { saveModeFromEnv } from './save-mode.js';
import { localLevel } from '../images/levels.js';
import { testPause } from './test-pause.js';

export interface CoordinatorArgs {
  ckptDir: string; host: string; port: number; interval: number; keep: number; expect: number;
  private?: boolean; exitOnLast?: boolean; ownerPid?: number; listenFd?: number; timeout: number;
  alertFd?: number;   // a private coordinator: the stderr of the launch or restart that started it
  restoreFrom?: string;   // a restart: the generation directory whose images (named in its manifest) are awaited
}

/** The image names of a generation's manifest: a restart releases its processes once each has joined. */
function awaitedImages(gen: string): string[] {
  return parseManifest(readFileSync(join(gen, 'manifest.json'), 'utf8'), join(gen, 'manifest.json')).processes.map((p) => p.image);
}

export async function runCoordinator(a: CoordinatorArgs): Promise<void> {
  const log = (s: string) => process.stderr.write(`${new Date().toISOString()} coordinator[${process.pid}]: ${s}\n`);
  const dir = resolve(a.ckptDir);
  // A private coordinator gets its socket and token from whoever started it.
  const token = (a.listenFd !== undefined && process.env.STASIS_COORD_TOKEN) || newToken();
  delete process.env.STASIS_COORD_TOKEN;
  new Store(dir).ensure();
  if (a.listenFd === undefined) await waitForPrevious(dir);
  let alertFd = a.alertFd;
  const coord = new Coordinator({
    ckptDir: dir, token, host: a.host, port: a.port, interval: a.interval, keep: a.keep, local: localLevel(dir),
    expect: a.expect, expectImages: a.restoreFrom ? awaitedImages(a.restoreFrom) : undefined, exitWhenIdle: a.private === true, exitOnLast: a.exitOnLast === true, timeoutMs: a.timeout * 1000, saveMode: saveModeFromEnv(), job: currentJobInfo(), log,
    // Written whole or not at all: the user's terminal or job output file may be gone (EPIPE, EBADF).
    alert: a.alertFd === undefined ? undefined : (s: string) => {
      if (alertFd === undefined) return;
      try { writeSync(alertFd, `stasis: ${s}\n`); } catch { /* nobody to tell */ }
    },
  });
  // Before it is published: whoever finds coordinator.json may signal it at once.
  // Under `stasis run` in a batch job the scheduler's SIGTERM reaches us with
  // every process of the job; the job driver checkpoints, then stops the job.
  const held = process.env.STASIS_HOLD_TERM ? 'SIGTERM' : null;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.on(sig, () => (sig === held ? log('SIGTERM held: the job driver (stasis run) stops the job') : coord.shutdown(sig)));
  await testPause(dir, 'start', 0, log);
  await coord.listen(a.listenFd);
  publish(dir, { host: coord.address.host, port: coord.address.port, pid: process.pid, private: a.private === true }, token);
  log(`listening on ${formatAddress(coord.address)} for ${dir}`);
  if (a.listenFd === undefined) process.stdout.write(`stasis coordinator listening on ${formatAddress(coord.address)} (ckpt dir ${dir})\n`);
  let watch: NodeJS.Timeout | null = null;
  if (a.private && a.ownerPid) {
    // Whoever started us died before any process connected (e.g. no such program).
    watch = setInterval(() => {
      if (pidAlive(a.ownerPid!)) return;
      // Its stderr is no one's to write to now, and our copy must not keep
      // a reader of it (`$(stasis launch … 2>&1)`) waiting for the job's other processes.
      if (alertFd !== undefined) { try { closeSync(alertFd); } catch { /* already */ } alertFd = undefined; }
      // Once processes joined, the last one leaving ends us (after a checkpoint in progress).
      if (!coord.hadProcesses) coord.shutdown(`owner ${a.ownerPid} is gone`);
    }, 200);
  }
  const driver = watchDriver(coord, log);
  await coord.done();
  // The last local generation reaches D before the job's coordinator is gone;
  // a restart meanwhile waits for it (waitForPrevious).
  if (coord.flushPending) {
    publish(dir, { host: coord.address.host, port: coord.address.port, pid: process.pid, private: a.private === true, flushing: true }, token);
    log('waiting for the flush to the checkpoint directory before leaving');
    await coord.flushed();
  }
  if (watch) clearInterval(watch);
  if (driver) clearInterval(driver);
  unpublish(dir);
  process.exit(0);
}

/**
 * The job driver (`stasis run`, STASIS_RUN_DRIVER) killed without a word
 * (SIGKILL, OOM): nobody would checkpoint or stop the job it leaves behind,
 * so its coordinator does — checkpoint, then kill every process.
 */
function watchDriver(coord: Coordinator, log: (s: string) => void): NodeJS.Timeout | null {
  const pid = Number(process.env.STASIS_RUN_DRIVER);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  let done = false;
  return setInterval(() => {
    if (done || pidAlive(pid)) return;
    done = true;
    log(`the job driver (stasis run, pid ${pid}) is gone: checkpointing and stopping the job`);
    coord.checkpoint('requested', true).then(
      (r) => log(`generation ${r.generation} committed; the job is stopped`),
      (e: Error) => { log(`${e.message}; stopping the job all the same`); coord.killAll(); });
  }, 500);
}
