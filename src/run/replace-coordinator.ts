// The command's coordinator died (SIGKILL, OOM) while the command runs on:
// its processes say so once and keep trying to rejoin a coordinator for
// their store. `stasis run` starts one (`stasis coordinator --exit-on-last`
// with the job's settings), so that interval checkpoints and the end-of-job
// checkpoint work again instead of losing the work since the last generation.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { liveCoordinator, readPublished } from '../coordinator/publish.js';
import { runningNotZombie } from '../coordinator/procfs.js';
import { readSettings } from '../images/settings.js';

export interface Watch { stop(): void }

/**
 * Checks every second while `commandPid` runs and `paused()` is false
 * (the driver is stopping the job); `say` gets one line per replacement.
 */
export function replaceDeadCoordinator(dir: string, commandPid: number, stasisBin: string, env: NodeJS.ProcessEnv,
  paused: () => boolean, say: (s: string) => void, fallback: { interval?: number; keep?: number }): Watch {
  let seen: number | null = null;   // pid of the coordinator last seen serving D
  // Coordinators not to replace: one an earlier command left in coordinator.json, and those replaced already.
  // One the command started that died before a tick saw it alive is still named there: it is replaced.
  const ignore = new Set<number>();
  const left = readPublished(dir)?.pid;
  if (left !== undefined) ignore.add(left);
  let started: ReturnType<typeof spawn> | null = null;
  const timer = setInterval(() => {
    const live = liveCoordinator(dir);
    if (live) { seen = live.pid; return; }
    const dead = readPublished(dir)?.pid ?? seen;
    if (dead === null || ignore.has(dead) || paused() || !runningNotZombie(commandPid)) return;
    ignore.add(dead);
    let settings = null;
    try { settings = readSettings(dir); } catch { /* the command line's, below */ }
    const interval = settings?.interval ?? fallback.interval ?? 0;
    const keep = settings?.keep ?? fallback.keep ?? 0;
    say(`the coordinator of ${dir} (pid ${dead}) died; started another, the command's processes rejoin it (log: ${join(dir, 'coordinator.log')})`);
    seen = null;
    const log = openSync(join(dir, 'coordinator.log'), 'a', 0o600);
    started = spawn(process.execPath, [stasisBin, 'coordinator', '--ckpt-dir', dir, '--exit-on-last', '--interval', String(interval), '--keep', String(keep)],
      { detached: true, stdio: ['ignore', 'ignore', log], env });
    closeSync(log);
    started.unref();
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      // The command has ended: a replacement still running has nobody left to serve (or never got anyone).
      const pid = started?.pid;
      if (pid && started?.exitCode === null && liveCoordinator(dir)?.pid === pid) {
        try { process.kill(pid, 'SIGINT'); } catch { /* gone */ }
      }
    },
  };
}
