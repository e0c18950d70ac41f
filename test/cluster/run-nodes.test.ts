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
/** What relay_driver ROUNDS 100000 … relay_worker prints uninterrupted (the same blocks, checksums and FNV-1a totals, computed here). */
function uninterrupted(rounds: number): string[] {
  const basis = [0xcbf29ce4, 0x84222325];
  const fnv = (h: number[], block: Uint8Array) => {
    let [hi, lo] = h as [number, number];
    for (const b of block) {   // h = (h ^ b) * 0x100000001b3 mod 2^64, in two 32-bit halves
      lo = (lo ^ b) >>> 0;
      const l = lo * 0x1b3;
      hi = (Math.imul(hi, 0x1b3) + Math.floor(l / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
      lo = l >>> 0;
    }
    return [hi, lo];
  };
  const hex = (h: number[]) => h.map((x) => x.toString(16).padStart(8, '0')).join('');
  const block = new Uint8Array(100000);
  let state = 12345, total = basis;
  const lines: string[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (let i = 0; i < block.length; i++) { state = (Math.imul(state, 1103515245) + 12345) >>> 0; block[i] = (state >>> 16) & 0xff; }
    total = fnv(total, block);
    lines.push(`round ${r} sum ${hex(fnv(basis, block))} total ${hex(total)}`);
  }
  return [...lines, `worker end: ${rounds} rounds, total ${hex(total)}`, 'command exit 7', 'worker stderr: done'];
}
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

  it('multinode.sbatch with a 1-minute limit and --signal=B:USR1@40 completes across several allocations, output as uninterrupted', async () => {
    const rounds = 500;   // 50 s of work and more: an allocation gives 20-40 s of it
    const id = await submitTemplate('sbatch/multinode.sbatch', runLine(rounds), ['--time=1', '--signal=B:USR1@40']);
    const info = await waitJob(id, 'COMPLETED', 360_000);
    const text = readFileSync(output(id), 'utf8');
    assert.deepEqual(programLines(text), uninterrupted(rounds), text.split('\n').filter((l) => !/^round/.test(l)).join('\n'));
    const restarts = Number(info.get('Restarts'));
    assert.ok(restarts >= 1, `requeued ${restarts} time(s): ${text}`);
    assert.equal(text.match(/^stasis: SIGUSR1: checkpointed gen-\d{6} into .*; job requeued/gm)?.length, restarts, text);
  });

  it('multinode.sbatch preempted by scontrol requeue while running comes back by itself on the two other nodes, twice, output as uninterrupted', async () => {
    const rounds = 150;
    const ref = await submitTemplate('sbatch/multinode.sbatch', runLine(rounds));
    await waitJob(ref, 'COMPLETED', 120_000);
    const expected = programLines(readFileSync(output(ref), 'utf8'));
    assert.deepEqual(expected, uninterrupted(rounds), readFileSync(output(ref), 'utf8'));

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
