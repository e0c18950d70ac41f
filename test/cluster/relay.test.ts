// ssh and srun inside a job on the real test cluster (sshd in every node,
// Slurm): the remote workers run in the job through the relay, a checkpoint
// holds processes of every node, and the job ends as an uninterrupted run.
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 300000 --exit dist/test/cluster/relay.test.js
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cluster, onNode, repoRoot, sbatch, slurm, stasisBin, useCluster, waitFile, waitJob, writeScript } from './cluster.js';

const programs = join(repoRoot, 'native', 'build', 'programs');
const driver = join(programs, 'relay_driver');
const worker = join(programs, 'relay_worker');

/** `stasis command --checkpoint`, here or (a coordinator in a node's pid namespace) on that node. */
async function checkpoint(dir: string, node?: string) {
  const args = [stasisBin, 'command', '--ckpt-dir', dir, '--checkpoint', '--json'];
  const r = node ? await onNode(node, 'node', args) : await execa('node', args, { reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout) as { generation: number; dir: string };
}

/**
 * Restart across hosts needs the coordinator for many hosts (`restart
 * --host-map`) and TCP re-made between loaders (loader_xtcp.c): until both
 * are in this checkout, the ssh test checkpoints and lets the job finish.
 */
const crossHostRestart = () => existsSync(join(repoRoot, 'native', 'plugins', 'socket', 'loader_xtcp.c')) &&
  readFileSync(join(repoRoot, 'src', 'cli', 'restart.ts'), 'utf8').includes('host-map');

/** The hosts of the images of a generation (<name>-<host>-<pid>.img). */
const imageHosts = (gen: string) => new Set(readdirSync(gen).filter((f) => f.endsWith('.img')).map((f) => f.split('-').at(-2)));

describe('ssh and srun inside a job on the real cluster (test/cluster)', function () {
  this.timeout(300_000);
  useCluster();

  it('a job on n1 running `ssh n2 worker` and `ssh n3 worker` is checkpointed with processes of all three, (killed and restarted with n2→n4, n3→n1) and ends as uninterrupted', async () => {
    const c = cluster();
    const dir = join(c.shared, `relay-ssh-${Date.now()}`);
    mkdirSync(dir);
    // The job's coordinator listens on the bridge, where every node reaches it.
    const coordinator = execa('node', [stasisBin, 'coordinator', '--ckpt-dir', dir, '--host', c.env.STASIS_CLUSTER_CONTROLLER!], { reject: false });
    try {
      await waitFile(join(dir, 'coordinator.json'), /"port"/, 20_000);
      const { host, port } = JSON.parse(readFileSync(join(dir, 'coordinator.json'), 'utf8')) as { host: string; port: number };
      const ssh = `ssh -F ${c.env.STASIS_CLUSTER_SSH_CONFIG}`;
      const job = (rounds: number, tag: string) => writeScript(`relay-${tag}.sh`, [
        '#!/bin/sh',
        `${driver} ${rounds} 100000 ${ssh} n2 ${worker} > ${dir}/${tag}.n2 2> ${dir}/${tag}.n2.err &`,
        `${driver} ${rounds} 100000 ${ssh} n3 ${worker} > ${dir}/${tag}.n3 2> ${dir}/${tag}.n3.err`,
        'wait', '',
      ].join('\n'));
      const launch = (script: string) => onNode('n1', 'node', [stasisBin, 'launch', '--ckpt-dir', dir, '--coord', `${host}:${port}`, '--', script],
        { env: { STASIS_TOKEN: readFileSync(join(dir, 'token'), 'utf8').trim() }, timeout: 120_000 });

      const whole = await launch(job(60, 'whole'));
      assert.equal(whole.exitCode, 0, whole.stderr);
      const expected = readFileSync(join(dir, 'whole.n2'), 'utf8');
      assert.match(expected, /^worker end: 60 rounds, total [0-9a-f]+\ncommand exit 7\n$/m);
      assert.equal(readFileSync(join(dir, 'whole.n3'), 'utf8'), expected);
      assert.equal(readFileSync(join(dir, 'whole.n2.err'), 'utf8'), 'worker stderr: done\n');

      const run = launch(job(60, 'ckpt'));
      await waitFile(join(dir, 'ckpt.n3'), /^round 15 /m, 60_000);
      const ck = await checkpoint(dir);
      assert.deepEqual([...imageHosts(ck.dir)].sort(), ['n1', 'n2', 'n3'], 'a generation with the processes of every node');
      if (crossHostRestart()) {
        // Everything on every node killed, then restarted with n2→n4 and n3→n1.
        const quit = await execa('node', [stasisBin, 'command', '--ckpt-dir', dir, '--quit'], { reject: false });
        assert.equal(quit.exitCode, 0, quit.stderr);
        await run;
        await coordinator;
        for (const n of ['n2', 'n3']) assert.doesNotMatch(readFileSync(join(dir, `ckpt.${n}`), 'utf8'), /command exit/, 'killed before the end');
        const r = await onNode('n1', stasisBin, ['restart', dir, '--host-map', 'n1=n1,n2=n4,n3=n1'], { timeout: 120_000 });
        assert.equal(r.exitCode, 0, r.stderr);
      } else {
        const r = await run;
        assert.equal(r.exitCode, 0, r.stderr);
      }
      for (const n of ['n2', 'n3']) {
        assert.equal(readFileSync(join(dir, `ckpt.${n}`), 'utf8'), expected, `output of the ${n} pair`);
        assert.equal(readFileSync(join(dir, `ckpt.${n}.err`), 'utf8'), 'worker stderr: done\n');
      }
    } finally {
      coordinator.kill('SIGTERM');
      await coordinator;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a job whose coordinator listens on 127.0.0.1 runs `ssh n2 …` as given (the other side cannot reach it)', async () => {
    const c = cluster();
    const dir = join(c.shared, `relay-loopback-${Date.now()}`);
    try {
      const r = await onNode('n1', 'node', [stasisBin, 'launch', '--ckpt-dir', dir, '--', 'sh', '-c',
        `ssh -F ${c.env.STASIS_CLUSTER_SSH_CONFIG} n2 'echo hi; hostname; exit 3'; echo "status $?"`], { timeout: 60_000 });
      assert.equal(r.stdout, 'hi\nn2\nstatus 3', r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('srun inside an sbatch allocation of 2 nodes runs the worker under the relay; checkpointed (killed and restarted in a new allocation of 2 other nodes), the job ends as uninterrupted', async () => {
    const c = cluster();
    // The batch shell starts the job's coordinator on its node's address and
    // the driver under it (its output files opened in the job: restored with
    // it); the driver runs `srun -N1 -n1 -w OTHER worker`.
    const script = [
      '#!/bin/sh',
      `D=${c.shared}/relay-srun-$SLURM_JOB_ID`,
      'mkdir -p $D',
      'ADDR=$(getent hosts $(hostname) | cut -d" " -f1)',
      'OTHER=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | grep -v "^$(hostname)$" | head -1)',
      `node ${stasisBin} coordinator --ckpt-dir $D --host $ADDR > $D.coord.log 2>&1 &`,
      'while [ ! -s $D/coordinator.json ]; do sleep 0.1; done',
      'PORT=$(sed \'s/.*"port":\\([0-9]*\\).*/\\1/\' $D/coordinator.json)',
      `STASIS_TOKEN=$(cat $D/token) node ${stasisBin} launch --ckpt-dir $D --coord $ADDR:$PORT -- sh -c "exec ${driver} $ROUNDS 100000 srun -N1 -n1 -w $OTHER ${worker} > $D/out 2> $D/err"`,
      'echo "launch exit $?"',
      'kill $!', '',
    ].join('\n');
    const output = (dir: string) => {
      assert.equal(readFileSync(join(dir, 'err'), 'utf8'), 'worker stderr: done\n');
      return readFileSync(join(dir, 'out'), 'utf8');
    };
    const submit = async (rounds: number) => {
      const id = await sbatch(script, ['-N2', `--export=ALL,ROUNDS=${rounds}`], 'relay-srun');
      const job = await waitJob(id, ['RUNNING', 'COMPLETED']);
      return { id, dir: join(c.shared, `relay-srun-${id}`), batchHost: job.get('BatchHost')!, nodes: job.get('NodeList')! };
    };
    const first = await submit(60);
    await waitJob(first.id, 'COMPLETED', 120_000);
    const expected = output(first.dir);
    assert.match(expected, /^worker end: 60 rounds, total [0-9a-f]+\ncommand exit 7\n$/m);

    const second = await submit(60);
    await waitFile(join(second.dir, 'out'), /^round 15 /m, 60_000);
    const hosts = imageHosts((await checkpoint(second.dir, second.batchHost)).dir);
    assert.equal(hosts.size, 2, `images of both nodes: ${[...hosts].join(',')}`);
    if (crossHostRestart()) {
      await slurm('scancel', [second.id]);
      await waitJob(second.id, 'CANCELLED', 60_000);
      assert.doesNotMatch(readFileSync(join(second.dir, 'out'), 'utf8'), /command exit/, 'killed before the end');
      const again = await sbatch(`#!/bin/sh\nnode ${stasisBin} restart ${second.dir}\n`, ['-N2', '-x', second.nodes], 'relay-srun-restart');
      await waitJob(again, 'COMPLETED', 120_000);
    } else {
      await waitJob(second.id, 'COMPLETED', 120_000);
    }
    assert.equal(output(second.dir), expected);
  });
});
