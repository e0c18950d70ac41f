// `stasis job` as a real process, given a fixture's environment and nothing
// else (so this machine's own SLURM_* / PBS_* never leak in).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { fixturePath, readEnvFixture, repoRoot } from './fixtures.js';

const stasisBin = join(repoRoot, 'bin', 'stasis.js');

function stasisJob(args: string[], env: NodeJS.ProcessEnv) {
  return execa(process.execPath, [stasisBin, 'job', ...args], {
    env: { PATH: process.env.PATH, ...env },
    extendEnv: false,
    reject: false,
  });
}

describe('stasis job (real process)', () => {
  it('--json prints the N4 Slurm job from the batch script\'s environment', async () => {
    const r = await stasisJob(['--json'], readEnvFixture('slurm', 'sbatch-N4-n2pn.batch.env'));
    assert.equal(r.exitCode, 0, r.stderr);
    const job = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(job.rm, 'slurm');
    assert.equal(job.id, '3');
    assert.equal(job.name, 'ckpt-demo');
    assert.deepEqual(job.nodes, ['n1', 'n2', 'n3', 'n4'].map((host) => ({ host, slots: 2 })));
    assert.equal(job.submitDir, '/home/user/job');
    assert.equal(job.restartCount, 0);
    assert.deepEqual(job.tasksPerNode, [2, 2, 2, 2]);
    assert.equal(job.thisNode, 'n1');
    assert.deepEqual(job.requeueArgv, ['scontrol', 'requeue', '3']);
    assert.deepEqual(job.endSignal, { signal: 'SIGUSR1', secondsBefore: null, how: (job.endSignal as { how: string }).how });
  });

  it('--json shows the restart count of a requeued job', async () => {
    const r = await stasisJob(['--json', '--signal-before', '60'], readEnvFixture('slurm', 'requeue-run1.env'));
    const job = JSON.parse(r.stdout) as { restartCount: number; endSignal: { secondsBefore: number } };
    assert.equal(job.restartCount, 1);
    assert.equal(job.endSignal.secondsBefore, 60);
  });

  it('reads a real PBS_NODEFILE for a Torque job', async () => {
    const env = { ...readEnvFixture('torque', 'env-torque-6.txt'), PBS_NODEFILE: fixturePath('torque', 'PBS_NODEFILE-2x4.txt') };
    const r = await stasisJob(['--json'], env);
    assert.equal(r.exitCode, 0, r.stderr);
    const job = JSON.parse(r.stdout) as { rm: string; nodes: unknown; requeueArgv: string[] };
    assert.equal(job.rm, 'torque');
    assert.deepEqual(job.nodes, [
      { host: 'node01', slots: 4 },
      { host: 'node02', slots: 4 },
    ]);
    assert.deepEqual(job.requeueArgv, ['qrerun', '1234.head.example.org']);
  });

  it('prints a readable summary by default', async () => {
    const r = await stasisJob([], readEnvFixture('slurm', 'srun-N3-n5.task0.env'));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^rm +slurm$/m);
    assert.match(r.stdout, /^nodes +n\[1-3\] \(3 nodes, 5 slots\)$/m);
    assert.match(r.stdout, /^requeue +scontrol requeue 9$/m);
  });

  it('fails with one line on stderr when the job cannot be read', async () => {
    const r = await stasisJob(['--json'], { SLURM_JOB_ID: '5', SLURM_JOB_NODELIST: 'n[1-2]-ib' });
    assert.notEqual(r.exitCode, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^stasis: invalid hostlist "n\[1-2\]-ib"/);
  });
});
