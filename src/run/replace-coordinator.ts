// The command's coordinator died (SIGKILL, OOM) while the command runs on:
// its processes say so once and keep trying to rejoin a coordinator for
// their store. `stasis run` starts one (`stasis coordinator --exit-on-last`
// with the job's settings), so that interval checkpoints and the end-of-job
// checkpoint work again instead of losing the work since the last generation.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { liveCoordinator } from '../coordinator/publish.js';
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
  let started: ReturnType<typeof spawn> | null = null;
  const timer = setInterval(() => {
    const live = liveCoordinator(dir);
    if (live) { seen = live.pid; return; }
    if (seen === null || paused() || !runningNotZombie(commandPid)) return;
    let settings = null;
    try { settings = readSettings(dir); } catch { /* the command line's, below */ }
    const interval = settings?.interval ?? fallback.interval ?? 0;
    const keep = settings?.keep ?? fallback.keep ?? 0;
    say(`the coordinator of ${dir} (pid ${seen}) died; started another, the command's processes rejoin it (log: ${join(dir, 'coordinator.log')})`);
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
