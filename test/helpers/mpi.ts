// The two MPI implementations the tests run (Debian's Open MPI 4.1 and
// MPICH 4.0) and an uninterrupted run's final line to compare with.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { Job, noBroken, numbers, programs, type Running } from './stasis.js';

export interface MpiImpl { name: string; program: string; launcher: (ranks: number) => string[]; env: Record<string, string> }

export const mpiImpls: MpiImpl[] = [
  {
    name: 'Open MPI 4.1',
    program: join(programs, 'mpi', 'mpi_exchange_ompi'),
    launcher: (n) => ['mpirun.openmpi', '--allow-run-as-root', '--oversubscribe', '-np', String(n)],
    // Loopback only: bridges of test clusters come and go on this machine.
    env: { OMPI_MCA_btl_tcp_if_include: 'lo', OMPI_MCA_oob_tcp_if_include: 'lo' },
  },
  {
    name: 'MPICH 4.0',
    program: join(programs, 'mpi', 'mpi_exchange_mpich'),
    launcher: (n) => ['mpiexec.hydra', '-n', String(n)],
    env: { UCX_NET_DEVICES: 'lo' },
  },
];

export const progress = /^step (\d+) sum [0-9a-f]+$/;

export const built = (impl: MpiImpl) => existsSync(impl.program);

/** The "done CHECKSUM" line of a run without stasis. */
export async function uninterruptedDone(argv: string[], env: Record<string, string>): Promise<string> {
  const r = await execa(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, reject: false, timeout: 300000 });
  assert.equal(r.exitCode, 0, `the uninterrupted run failed: ${r.stderr}`);
  const done = String(r.stdout).split('\n').find((l) => l.startsWith('done ')) ?? '';
  assert.match(done, /^done [0-9a-f]{16}$/);
  return done;
}

/**
 * `argv` launched under stasis, checkpointed mid-run, every process killed
 * and restarted — twice; it must go on from each checkpoint and end with
 * `done` (an uninterrupted run's last line) and no BROKEN line.
 */
export async function twoRestartsToDone(argv: string[], env: Record<string, string>, done: string): Promise<void> {
  const job = new Job();
  try {
    let p: Running = job.launch(argv, { env });
    for (let round = 1; round <= 2; round++) {
      await p.waitFor(progress, 90000, p.lines.length);
      const ck = await job.checkpoint();
      assert.equal(ck.generation, round);
      const at = numbers(p.lines, progress).at(-1)!;
      await job.killTree(p);
      p = job.restart();
      // It goes on from the checkpoint: the next step printed is after it.
      const next = Number((await p.waitFor(progress, 90000))[1]);
      assert.ok(next >= at, `restart ${round} printed step ${next}, before the checkpoint's ${at}`);
    }
    assert.equal(await p.waitExit(180000), 0, p.tail());
    noBroken(p.lines);
    assert.equal(p.lines.find((l) => l.startsWith('done ')), done, p.tail());
  } finally {
    await job.cleanup();
  }
}
