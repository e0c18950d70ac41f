// TEST-ONLY: STASIS_TEST_PAUSE=PHASE[@GEN] stops the coordinator at a named
// phase of a checkpoint (of generation GEN only, if given) until the file
// D/test-release appears (it is removed then) or 60 s pass, so that a test
// can SIGKILL a process of the job, the job driver or the coordinator itself
// exactly there. Never set it outside tests. The phases, in order:
//   start      the coordinator started, before it listens (a restart's processes wait in its backlog)
//   suspend    every process stopped, before DRAIN
//   drain      drained, before SAVE
//   saved      every image written, before the commit
//   commit     images and manifest fsynced in .gen-N.tmp, before the rename
//   renamed    gen-N renamed into place, before `latest` moves
//   committed  `latest` moved, before RESUME
//   flush      (--local-dir) a local generation copied to D/.gen-N.tmp, before its commit there
// (While images are written: STASIS_FAULT=save-slow@GEN in the processes.)
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type TestPhase = 'start' | 'suspend' | 'drain' | 'saved' | 'commit' | 'renamed' | 'committed' | 'flush';

export const RELEASE_FILE = 'test-release';
const MAX_MS = 60_000;

function wanted(phase: TestPhase, generation: number): boolean {
  const spec = process.env.STASIS_TEST_PAUSE;
  if (!spec) return false;
  const [name, gen] = spec.split('@');
  return name === phase && (gen === undefined || Number(gen) === generation);
}

function released(dir: string): boolean {
  const f = join(dir, RELEASE_FILE);
  if (!existsSync(f)) return false;
  rmSync(f, { force: true });
  return true;
}

const line = (phase: TestPhase, generation: number, dir: string) =>
  `test pause at ${phase} of generation ${generation} (until ${join(dir, RELEASE_FILE)} appears)`;

export async function testPause(dir: string, phase: TestPhase, generation: number, log: (s: string) => void): Promise<void> {
  if (!wanted(phase, generation)) return;
  log(line(phase, generation, dir));
  for (let t = 0; t < MAX_MS && !released(dir); t += 50) await new Promise((r) => setTimeout(r, 50));
}

/** The same inside a synchronous step (the commit): the whole coordinator stands still. */
export function testPauseSync(dir: string, phase: TestPhase, generation: number, log: (s: string) => void): void {
  if (!wanted(phase, generation)) return;
  log(line(phase, generation, dir));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let t = 0; t < MAX_MS && !released(dir); t += 50) Atomics.wait(cell, 0, 0, 50);
}
