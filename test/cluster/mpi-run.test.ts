// The MPI template (scripts/sbatch/mpi.sbatch) under `stasis run` on the real
// Slurm test cluster: 4 ranks of test/programs/mpi/mpi_exchange.c (ring,
// allreduce, a storm of point-to-point messages, checksums) on 2 nodes,
// started by a plain `mpirun` (Open MPI) or `mpiexec.hydra` (MPICH) that
// reads the allocation from Slurm and starts its daemon on the other node
// with srun. Preempted twice by
// `scontrol requeue` while running, the job comes back by itself on the two
// nodes it did not have, and prints what an uninterrupted run prints.
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 900000 --exit dist/test/cluster/mpi-run.test.js
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cluster, repoRoot, slurm, useCluster, waitFile, waitJob } from './cluster.js';
import { submitTemplate } from './templates.js';

const mpiDir = join(repoRoot, 'native', 'build', 'programs', 'mpi');
const STEPS = 1200;
/** A launcher as the template runs it, and the program. */
interface Impl { name: string; program: string; runLine: string }
const impls: Impl[] = [
  {
    // Open MPI's mpirun by name (the cluster runs jobs as root).
    name: 'Open MPI 4.1 (mpirun, daemons by srun)',
    program: join(mpiDir, 'mpi_exchange_ompi'),
    runLine: `exec stasis run --interval 1800 --keep 2 -- mpirun.openmpi --allow-run-as-root ${join(mpiDir, 'mpi_exchange_ompi')} ${STEPS}`,
  },
  {
    // Hydra's Slurm bootstrap (srun) and node list; UCX would also offer its
    // peers the node's loopback address (as in mpi.test.ts).
    name: 'MPICH 4.0 (mpiexec.hydra, proxies by srun)',
    program: join(mpiDir, 'mpi_exchange_mpich'),
    runLine: `export UCX_NET_DEVICES=eth0\nexec stasis run --interval 1800 --keep 2 -- mpiexec.hydra ${join(mpiDir, 'mpi_exchange_mpich')} ${STEPS}`,
  },
];
const output = (id: string) => join(cluster().shared, `stasis-mpi-${id}.out`);
/** Rank 0's lines in a job output file that also holds stasis' and Slurm's messages. */
const programLines = (text: string) => text.split('\n').filter((l) => /^(step \d+ sum [0-9a-f]{16}|done [0-9a-f]{16})$/.test(l));
const hostnames = async (list: string) => (await slurm('scontrol', ['show', 'hostnames', list])).split('\n').filter(Boolean);

describe('stasis run of the MPI template (test/cluster)', function () {
  this.timeout(900_000);
  useCluster();

  for (const { name, program, runLine } of impls) it(`mpi.sbatch, ${name}, 4 ranks on 2 nodes: preempted by scontrol requeue twice, comes back on the two other nodes each time, output as uninterrupted`, async function () {
    if (!existsSync(program)) {
      console.log(`    skipped: ${program} is missing (scripts/install-deps.sh)`);
      this.skip();
    }
    const ref = await submitTemplate('sbatch/mpi.sbatch', runLine);
    await waitJob(ref, 'COMPLETED', 300_000);
    const expected = programLines(readFileSync(output(ref), 'utf8'));
    assert.equal(expected.length, STEPS / 20 + 1, readFileSync(output(ref), 'utf8'));

    const id = await submitTemplate('sbatch/mpi.sbatch', runLine);
    const allocations: string[][] = [];
    for (const at of [300, 700]) {
      await waitFile(output(id), new RegExp(`^step ${at} `, 'm'), 240_000);
      const running = await waitJob(id, 'RUNNING');
      const nodes = await hostnames(running.get('NodeList')!);
      assert.equal(nodes.length, 2);
      allocations.push(nodes);
      await slurm('scontrol', ['requeue', id]);
      // The cluster has 4 nodes: the next run gets the two this one did not have.
      await slurm('scontrol', ['update', `jobid=${id}`, `excnodelist=${nodes.join(',')}`]);
    }
    const info = await waitJob(id, 'COMPLETED', 400_000);
    const text = readFileSync(output(id), 'utf8');
    assert.equal(info.get('Restarts'), '2', text);
    allocations.push(await hostnames(info.get('NodeList')!));
    for (let i = 1; i < allocations.length; i++)
      assert.deepEqual(allocations[i]!.filter((n) => allocations[i - 1]!.includes(n)), [], `allocations ${allocations.join(' then ')}`);
    assert.deepEqual(programLines(text), expected, text);
    for (const g of [1, 2])
      assert.match(text, new RegExp(`^stasis: SIGTERM: checkpointed gen-00000${g} into .*; the job was already requeued, it resumes when it runs again$`, 'm'), text);
    assert.doesNotMatch(text, /Read -1|unexpectedly disconnected|debugger attach fifo/, text);
  });
});
