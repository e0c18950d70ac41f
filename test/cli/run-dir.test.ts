// The checkpoint directory `stasis run` picks when none is given: stable
// across requeues of one job, distinct per array task (defaultRunDir).
import assert from 'node:assert/strict';
import { slurmJobFromEnv } from '../../src/rm/slurm.js';
import { localJob } from '../../src/rm/local.js';
import { defaultRunDir } from '../../src/run/ckpt-dir.js';

const slurmEnv = { SLURM_JOB_ID: '4242', SLURM_JOB_NODELIST: 'n1', SLURM_SUBMIT_DIR: '/home/u/proj' };

describe('stasis run: default checkpoint directory', () => {
  it('a Slurm job: SUBMIT_DIR/stasis-ckpt-JOBID, the same after a requeue', () => {
    const first = defaultRunDir(slurmJobFromEnv(slurmEnv), {});
    const requeued = defaultRunDir(slurmJobFromEnv({ ...slurmEnv, SLURM_RESTART_COUNT: '3' }), {});
    assert.equal(first, '/home/u/proj/stasis-ckpt-4242');
    assert.equal(requeued, first);
  });

  it('array tasks: stasis-ckpt-ARRAYID_TASK, one per task', () => {
    const task = (t: string, id: string) => defaultRunDir(slurmJobFromEnv({ ...slurmEnv, SLURM_JOB_ID: id, SLURM_ARRAY_JOB_ID: '4242', SLURM_ARRAY_TASK_ID: t }), {});
    assert.equal(task('0', '4242'), '/home/u/proj/stasis-ckpt-4242_0');
    assert.equal(task('7', '4249'), '/home/u/proj/stasis-ckpt-4242_7');
  });

  it('STASIS_CKPT_DIR wins; without a resource manager ./stasis-ckpt', () => {
    assert.equal(defaultRunDir(slurmJobFromEnv(slurmEnv), { STASIS_CKPT_DIR: '/scratch/c' }), '/scratch/c');
    assert.equal(defaultRunDir(localJob({ hostname: 'h', cpus: 1, cwd: '/w' }), {}, '/w'), '/w/stasis-ckpt');
  });
});
