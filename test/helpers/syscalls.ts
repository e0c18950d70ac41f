// What the tasks of a job's processes are blocked in, from /proc (x86_64
// syscall numbers), to checkpoint at the moment a test means.
import { readdirSync, readFileSync } from 'node:fs';
import type { Job } from './stasis.js';

export const SYS_read = 0, SYS_wait4 = 61, SYS_rt_sigsuspend = 130, SYS_waitid = 247;

/** Syscall numbers the tasks of the given processes are blocked in. */
export function blockedIn(pids: number[]): number[] {
  const calls: number[] = [];
  for (const pid of pids) {
    let tasks: string[] = [];
    try { tasks = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const t of tasks) {
      try { calls.push(Number(readFileSync(`/proc/${pid}/task/${t}/syscall`, 'utf8').split(' ')[0])); } catch { /* gone */ }
    }
  }
  return calls;
}

/** Waits (up to 15 s) until the job has at least `want[nr]` tasks blocked in each syscall nr; returns what it saw. */
export async function untilBlocked(job: Job, want: Record<number, number>): Promise<number[]> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const calls = blockedIn(await job.kernelPids());
    const met = Object.entries(want).every(([nr, n]) => calls.filter((c) => c === Number(nr)).length >= n);
    if (met || Date.now() > deadline) return calls;
    await new Promise((r) => setTimeout(r, 100));
  }
}
