// `stasis run` and the job templates (scripts/sbatch, scripts/pbs) on the
// real Slurm test cluster: jobs stopped by their time limit (USR1 from
// --signal=B:USR1@T), by `scontrol requeue` (preemption) or by a USR1 sent
// by hand come back by themselves and end with the output of an
// uninterrupted run. Alone: npx tsc -p tsconfig.json && npx mocha --config test/cluster/mocharc.json
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cluster, repoRoot, scontrolShowJob, slurm, useCluster, waitFile, waitJob } from './cluster.js';
import { submitTemplate } from './templates.js';

const programs = join(repoRoot, 'native', 'build', 'programs');
const uninterrupted = (n: number) => [...Array.from({ length: n }, (_, i) => `count ${i}`), 'done'];
/** The program's lines in a job output file that also holds stasis' and Slurm's messages. */
const countLines = (text: string) => text.split('\n').filter((l) => /^(count \d+|done)$/.test(l));

/** USR1 to the batch shell, as --signal=B:USR1@T sends it, once the program printed `count AT`. */
async function usr1When(id: string, file: string, at: number): Promise<void> {
  await waitFile(file, new RegExp(`^count ${at}$`, 'm'), 60_000);
  await slurm('scancel', ['--batch', '--signal=USR1', id]);
}

describe('stasis run on the real Slurm cluster (test/cluster)', function () {
  this.timeout(300_000);
  useCluster();

  it('single.sbatch with a 1-minute limit and --signal=B:USR1@40 completes across several allocations, output as uninterrupted', async () => {
    const n = 1200;   // 60 s of work: an allocation gives 20-40 s of it
    const id = await submitTemplate('sbatch/single.sbatch', `exec stasis run --interval 1800 --keep 2 -- ${programs}/count_to ${n}`,
      ['--time=1', '--signal=B:USR1@40']);
    const t0 = Date.now();
    const info = await waitJob(id, 'COMPLETED', 280_000);
    const text = readFileSync(join(cluster().shared, `stasis-single-${id}.out`), 'utf8');
    assert.deepEqual(countLines(text), uninterrupted(n), text.split('\n').filter((l) => !/^count/.test(l)).join('\n'));
    const restarts = Number(info.get('Restarts'));
    assert.ok(restarts >= 2, `requeued ${restarts} time(s): ${text}`);
    assert.equal(text.match(/^stasis: SIGUSR1: checkpointed gen-\d{6} into .*; job requeued/gm)?.length, restarts, text);
    const rec = JSON.parse(readFileSync(join(cluster().shared, `stasis-ckpt-${id}`, 'run.json'), 'utf8')) as { restarts: number; finished: unknown };
    assert.equal(rec.restarts, restarts);
    assert.ok(rec.finished);
    console.log(`      (${restarts + 1} allocations, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  });

  it('single.sbatch preempted by scontrol requeue while running comes back by itself, output as uninterrupted', async () => {
    // Slurm's SIGTERM reaches every process of the job: the program and its
    // coordinator hold it (STASIS_HOLD_TERM) while stasis run checkpoints
    // them, within KillWait (2 s here), so nothing printed is printed twice.
    const n = 300;
    const id = await submitTemplate('sbatch/single.sbatch', `exec stasis run --interval 1800 --keep 2 -- ${programs}/count_to ${n}`);
    const file = join(cluster().shared, `stasis-single-${id}.out`);
    await waitFile(file, /^count 100$/m, 60_000);
    await slurm('scontrol', ['requeue', id]);
    const info = await waitJob(id, 'COMPLETED', 120_000);
    assert.equal(info.get('Restarts'), '1');
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(countLines(text), uninterrupted(n), text);
    assert.match(text, /^stasis: SIGTERM: checkpointed gen-000001 into .*; the job was already requeued, it resumes when it runs again$/m, text);
  });

  it('10 consecutive requeue cycles of one job: output as uninterrupted, restart count and generation numbers increasing', async function () {
    this.timeout(900_000);
    const n = 560;
    const id = await submitTemplate('sbatch/single.sbatch', `exec stasis run --interval 1800 --keep 2 -- ${programs}/count_to ${n}`);
    const file = join(cluster().shared, `stasis-single-${id}.out`);
    for (let cycle = 1; cycle <= 10; cycle++) await usr1When(id, file, 40 * cycle);
    const info = await waitJob(id, 'COMPLETED', 300_000);
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(countLines(text), uninterrupted(n), text.split('\n').filter((l) => !/^count/.test(l)).join('\n'));
    assert.equal(info.get('Restarts'), '10');
    const gens = [...text.matchAll(/^stasis: SIGUSR1: checkpointed gen-(\d{6}) into .*; job requeued/gm)].map((m) => Number(m[1]));
    assert.equal(gens.length, 10, text);
    assert.ok(gens.every((g, i) => i === 0 || g > gens[i - 1]!), `generations ${gens.join(',')}`);
    const rec = JSON.parse(readFileSync(join(cluster().shared, `stasis-ckpt-${id}`, 'run.json'), 'utf8')) as { restarts: number; finished: unknown };
    assert.equal(rec.restarts, 10);
    assert.ok(rec.finished);
  });

  it('threaded.sbatch: USR1 to the batch shell checkpoints 4 threads, requeues, and the job resumes and completes', async () => {
    const n = 200;
    const id = await submitTemplate('sbatch/threaded.sbatch',
      `exec stasis run --interval 1800 --keep 2 -- ${programs}/count_threads ${n} 4`, ['--cpus-per-task=2']);
    const file = join(cluster().shared, `stasis-threaded-${id}.out`);
    await usr1When(id, file, 60);
    const info = await waitJob(id, 'COMPLETED', 120_000);
    assert.equal(info.get('Restarts'), '1');
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(countLines(text), uninterrupted(n), text);
    assert.match(text, /^stasis: SIGUSR1: checkpointed gen-000001 into .*stasis-ckpt-\d+; job requeued \(scontrol requeue \d+\)/m);
  });

  it('array.sbatch: each task runs in its own checkpoint directory, and a requeued task resumes in its own', async () => {
    const n = 150;
    const id = await submitTemplate('sbatch/array.sbatch', `exec stasis run --interval 1800 --keep 2 -- ${programs}/count_to ${n}`, ['--array=0-1']);
    const out = (t: number) => join(cluster().shared, `stasis-array-${id}_${t}.out`);
    await waitFile(out(1), /^count 40$/m, 60_000);
    await slurm('scancel', ['--batch', '--signal=USR1', `${id}_1`]);
    for (const t of [0, 1]) {
      await waitJob(`${id}_${t}`, 'COMPLETED', 120_000);
      assert.deepEqual(countLines(readFileSync(out(t), 'utf8')), uninterrupted(n), readFileSync(out(t), 'utf8'));
      const rec = JSON.parse(readFileSync(join(cluster().shared, `stasis-ckpt-${id}_${t}`, 'run.json'), 'utf8')) as { restarts: number };
      assert.equal(rec.restarts, t, `task ${t}`);
    }
  });

  it('pbs/single.pbs through Slurm\'s qsub wrapper: #PBS -r y makes it requeueable; USR1 requeues it and it resumes', async () => {
    // The wrapper's jobs have SLURM_* and no PBS_*: stasis run drives them as
    // Slurm jobs (scontrol requeue), so only the template itself is tested.
    // No --open-mode=append there: the program writes a file of its own.
    const n = 200;
    const log = join(cluster().shared, `pbs-${Date.now()}.out`);
    const id = await submitTemplate('pbs/single.pbs',
      `exec stasis run --interval 1800 --keep 2 -- ${programs}/count_to ${n} pbs-$SLURM_JOB_ID.txt`, ['-o', log], 'qsub');
    assert.equal((await scontrolShowJob(id)).get('Requeue'), '1', '#PBS -r y did not make the job requeueable');
    const out = join(cluster().shared, `pbs-${id}.txt`);
    await usr1When(id, out, 60);
    const info = await waitJob(id, 'COMPLETED', 120_000);
    assert.equal(info.get('Restarts'), '1');
    assert.deepEqual(readFileSync(out, 'utf8').split('\n').filter(Boolean), uninterrupted(n));
  });
});
