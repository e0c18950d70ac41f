// What this host's kernel says about a process of the job.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** True while `pid` exists and has not ended (a zombie has ended). */
export function runningNotZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch { return false; }
}

/**
 * A process whose connection closed but which still runs here is in
 * exec(): its new image connects in a moment (the same kernel pid).
 */
export function isExecing(host: string, kernelPid: number): boolean {
  return host === hostname() && runningNotZombie(kernelPid);
}
