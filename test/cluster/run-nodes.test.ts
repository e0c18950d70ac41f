// `stasis run` of a job on two nodes (scripts/sbatch/multinode.sbatch) on
// the real Slurm test cluster: a driver on the batch node streams data to a
// worker that srun starts on the other node; preempted, the job comes back
// by itself on two other nodes and ends as an uninterrupted run.
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 300000 --exit dist/test/cluster/run-nodes.test.js
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cluster, repoRoot, slurm, useCluster, waitFile, waitJob } from './cluster.js';
import { submitTemplate } from './templates.js';

const programs = join(repoRoot, 'native', 'build', 'programs');
/** The template's command: relay_driver sends ROUNDS blocks (one every 100 ms) to relay_worker, which answers each with a running checksum. */
const runLine = (rounds: number) => `exec stasis run --interval 1800 --keep 2 -- ${programs}/relay_driver ${rounds} 100000 `
  + `srun --nodes=1 --ntasks=1 --relative=1 ${programs}/relay_worker`;
/**
 * The programs' lines in a job output file that also holds stasis' and
 * Slurm's messages: the driver's stdout in order, then the worker's one
 * stderr line (it reaches the file through another connection: its place
 * among the others is not fixed).
 */
const programLines = (text: string) => {
  const lines = text.split('\n');
  return [...lines.filter((l) => /^(round \d+ sum \w+ total \w+|worker end: .*|command exit \d+)$/.test(l)),
    ...lines.filter((l) => l === 'worker stderr: done')];
};
const output = (id: string) => join(cluster().shared, `stasis-multinode-${id}.out`);
const hostnames = async (list: string) => (await slurm('scontrol', ['show', 'hostnames', list])).split('\n').filter(Boolean);
/** The hosts the processes of a generation ran on (images <name>-<origin>-<pid>.img; the manifest says where each ran). */
const generationHosts = (gen: string) => {
  const m = JSON.parse(readFileSync(join(gen, 'manifest.json'), 'utf8')) as { processes: { host: string }[] };
  return new Set(m.processes.map((p) => p.host));
};

describe('stasis run of a job on two nodes (test/cluster)', function () {
  this.timeout(400_000);
  useCluster();

  it('multinode.sbatch preempted by scontrol requeue while running comes back by itself on the two other nodes, twice, output as uninterrupted', async () => {
    const rounds = 150;
    const ref = await submitTemplate('sbatch/multinode.sbatch', runLine(rounds));
    await waitJob(ref, 'COMPLETED', 120_000);
    const expected = programLines(readFileSync(output(ref), 'utf8'));
    assert.equal(expected.length, rounds + 3, readFileSync(output(ref), 'utf8'));
    assert.deepEqual(expected.slice(-2), ['command exit 7', 'worker stderr: done']);

    // Each preemption moves the job to the two nodes it did not have: n1,n2 → n3,n4 → n1,n2.
    const id = await submitTemplate('sbatch/multinode.sbatch', runLine(rounds));
    const allocations: string[][] = [];
    for (const at of [50, 100]) {
      await waitFile(output(id), new RegExp(`^round ${at} `, 'm'), 90_000);
      const running = await waitJob(id, 'RUNNING');
      const nodes = await hostnames(running.get('NodeList')!);
      assert.equal(nodes.length, 2);
      allocations.push(nodes);
      await slurm('scontrol', ['requeue', id]);
      // The cluster has 4 nodes: the next run gets the two this one did not have.
      await slurm('scontrol', ['update', `jobid=${id}`, `excnodelist=${nodes.join(',')}`]);
    }
    const info = await waitJob(id, 'COMPLETED', 180_000);
    const text = readFileSync(output(id), 'utf8');
    assert.equal(info.get('Restarts'), '2');
    allocations.push(await hostnames(info.get('NodeList')!));
    for (let i = 1; i < allocations.length; i++)
      assert.deepEqual(allocations[i]!.filter((n) => allocations[i - 1]!.includes(n)), [], `allocations ${allocations.join(' then ')}`);
    assert.deepEqual(programLines(text), expected, text);
    for (const g of [1, 2]) {
      assert.match(text, new RegExp(`^stasis: SIGTERM: checkpointed gen-00000${g} into .*; the job was already requeued, it resumes when it runs again$`, 'm'), text);
    }
    const dir = join(cluster().shared, `stasis-ckpt-${id}`);
    // Where the processes of each generation ran: both nodes of the allocation it was written in.
    for (const g of [1, 2]) assert.deepEqual([...generationHosts(join(dir, `gen-00000${g}`))].sort(), [...allocations[g - 1]!].sort(), `gen ${g}`);
    const rec = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { restarts: number; finished: unknown };
    assert.equal(rec.restarts, 2);
    assert.ok(rec.finished);
  });
});
