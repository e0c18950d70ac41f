// One checkpoint → SIGKILL → restart round for a program that prints a
// numbered progress line: the restarted program must go on from where the
// checkpoint left it, without skipping a number, and print no BROKEN line.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, Running, noBroken, numbers } from './stasis.js';

export interface Progress {
  progress: RegExp;     // a line with the program's counter as group 1
  minLines?: number;    // progress lines to see after the restart (5)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Checkpoints `p` (expecting `generation`), lets it run on for `runOn`
 * more progress lines (or 300 ms when 0), kills the whole job and restarts it.
 */
export async function checkpointKillRestart(job: Job, p: Running, c: Progress, generation: number, runOn = 0): Promise<Running> {
  try {
    return await round(job, p, c, generation, runOn);
  } catch (e) {
    // The job's directory goes with Job.cleanup: what its coordinator saw goes with the error.
    const log = join(job.dir, 'coordinator.log');
    if (e instanceof Error && existsSync(log)) e.message += `\n  coordinator.log, last lines:\n    ${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-12).join('\n    ')}`;
    throw e;
  }
}

async function round(job: Job, p: Running, c: Progress, generation: number, runOn: number): Promise<Running> {
  await p.waitFor(c.progress);
  await sleep(500);
  const before = numbers(p.lines, c.progress).at(-1)!;
  const ck = await job.checkpoint();
  assert.equal(ck.generation, generation);
  const atCheckpoint = numbers(p.lines, c.progress).at(-1)!;
  if (runOn) await p.waitFor(new RegExp(c.progress.source.replace('(\\d+)', String(atCheckpoint + runOn))));
  else await sleep(300);
  await job.killTree(p);
  noBroken(p.lines);
  const lastBeforeKill = numbers(p.lines, c.progress).at(-1)!;
  const r = job.restart();
  while (numbers(r.lines, c.progress).length < (c.minLines ?? 5)) await r.waitFor(c.progress, 20000, r.lines.length);
  const after = numbers(r.lines, c.progress);
  assert.ok(after[0]! > before && after[0]! <= lastBeforeKill + 1,
    `restart resumed at ${after[0]}, expected in (${before}, ${lastBeforeKill + 1}]: ${r.tail()}`);
  for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1]! + 1, `output skipped: ${after.join(',')}`);
  noBroken(r.lines);
  return r;
}

/** The program ticks on (10 more progress lines) and printed no BROKEN line. */
export async function ticksOn(p: Running, progress: RegExp, more = 10): Promise<void> {
  const ticks = numbers(p.lines, progress).at(-1)!;
  await p.waitFor(new RegExp(`^tick ${ticks + more} `), 20000);
  noBroken(p.lines);
}
