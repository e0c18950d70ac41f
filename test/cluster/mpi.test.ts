// MPI jobs across the nodes of the test cluster (issue 13): 8 ranks of
// test/programs/mpi/mpi_exchange.c (ring, allreduce, a storm of
// point-to-point messages, a checksum), 2 per node on n1..n4, started by
// `stasis launch` on n1 (Open MPI's mpirun with its ssh launcher, MPICH's
// mpiexec.hydra -launcher ssh: their daemons on n2..n4 join the job through
// the ssh relay). Checkpointed mid-run, every process on every node killed,
// restarted with every rank on another node; checkpointed, killed again and
// restarted onto 2 nodes (4 ranks each): the output file (opened in the job,
// so restored with it) must be the uninterrupted run's, byte for byte. The
// same for a python3 mpi4py program (test/programs/mpi/mpi4py_exchange.py).
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 900000 --exit dist/test/cluster/mpi.test.js
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { cluster, onNode, repoRoot, stasisBin, useCluster, type NodeResult } from './cluster.js';
import { transports } from '../../src/mpi/environment.js';

const mpiDir = join(repoRoot, 'native', 'build', 'programs', 'mpi');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const HOSTS = 'n1:2,n2:2,n3:2,n4:2';
const debug = { STASIS_DEBUG: '1' };

/** A launcher's argv, the program it runs (argv, and the file that must exist), and the environment. */
interface Impl { name: string; argv: string[]; program: string[]; file: string; env: Record<string, string> }
const ompiArgv = ['mpirun.openmpi', '--allow-run-as-root', '--oversubscribe', '--host', HOSTS, '-np', '8', '--mca', 'plm_rsh_agent', 'ssh'];
const mpi4py = join(repoRoot, 'test', 'programs', 'mpi', 'mpi4py_exchange.py');
const impls: Impl[] = [
  {
    name: 'Open MPI 4.1 (mpirun, ssh launcher)',
    argv: ompiArgv,
    program: [join(mpiDir, 'mpi_exchange_ompi'), '300'],
    file: join(mpiDir, 'mpi_exchange_ompi'),
    // Started from a shell (its output file is the job's), so stasis does not
    // see the launcher: the variables `stasis launch mpirun` would add, here.
    env: { ...transports.openmpi },
  },
  {
    name: 'MPICH 4.0 (mpiexec.hydra -launcher ssh)',
    argv: ['mpiexec.hydra', '-launcher', 'ssh', '-hosts', HOSTS, '-n', '8'],
    program: [join(mpiDir, 'mpi_exchange_mpich'), '300'],
    file: join(mpiDir, 'mpi_exchange_mpich'),
    // UCX would also offer its peers the node's loopback address.
    env: { ...transports.mpich, UCX_NET_DEVICES: 'eth0' },
  },
  {
    // Debian's python3-mpi4py is built against Open MPI.
    name: 'python3 mpi4py on Open MPI 4.1',
    argv: ompiArgv,
    program: ['/usr/bin/python3', mpi4py, '200'],
    file: '/usr/lib/python3/dist-packages/mpi4py/__init__.py',
    env: { ...transports.openmpi },
  },
];

const text = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const logTail = (dir: string) => text(join(dir, 'coordinator.log')).trimEnd().split('\n').slice(-8).join('\n');
const lastStep = (f: string) => Number([...text(f).matchAll(/^step (\d+) /gm)].at(-1)?.[1] ?? -1);

async function stasis(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa('node', [stasisBin, ...args], { reject: false, env: cluster().env, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Until the job's output shows step `min` or later; fails when `run` ended first. */
async function waitStep(out: string, min: number, run: Promise<NodeResult>, what: string): Promise<void> {
  let ended: NodeResult | null = null;
  void run.then((r) => { ended = r; });
  for (const until = Date.now() + 240_000; lastStep(out) < min; await sleep(300)) {
    if (ended) assert.fail(`${what} ended before step ${min}: ${JSON.stringify(ended)}\n${text(out).slice(-300)}\ncoordinator.log: ${logTail(dirname(out))}`);
    if (Date.now() > until) assert.fail(`${what}: no step ${min} after 240 s; last ${lastStep(out)}`);
  }
}

/** Checkpoint, then every process of the job killed (--quit): nothing of it runs on any node. */
async function checkpointAndKill(dir: string, generation: number, run: Promise<NodeResult>, program: string[]): Promise<void> {
  const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
  assert.equal(ck.exitCode, 0, ck.stderr);
  assert.equal(JSON.parse(ck.stdout).generation, generation);
  const quit = await stasis(['command', '--ckpt-dir', dir, '--quit']);
  assert.equal(quit.exitCode, 0, quit.stderr);
  await run;
  for (const n of cluster().nodes) {
    const left = await onNode(n, 'pgrep', ['-f', program.join(' ')]);
    assert.equal(left.exitCode, 1, `on ${n} ranks still run: ${left.stdout}`);
  }
}

describe('MPI across the nodes of the test cluster: 8 ranks on n1..n4', function () {
  this.timeout(900_000);
  useCluster();

  for (const impl of impls) {
    it(`${impl.name}: checkpointed, all killed, restarted with every rank on another node; again onto 2 nodes: output identical to an uninterrupted run`, async function () {
      if (!existsSync(impl.file)) {
        console.log(`    skipped: ${impl.file} is missing (scripts/install-deps.sh)`);
        this.skip();
      }
      const c = cluster();
      const dir = join(c.shared, `mpi-${impls.indexOf(impl)}-${Date.now()}`);
      mkdirSync(dir);
      const job = (out: string) => `exec ${[...impl.argv, ...impl.program].map(q).join(' ')} > ${q(out)} 2> ${q(`${out}.err`)}`;

      const whole = join(dir, 'whole.out');
      const plain = await onNode('n1', 'sh', ['-c', job(whole)], { env: impl.env, timeout: 300_000 });
      assert.equal(plain.exitCode, 0, `the uninterrupted run: ${plain.stderr} ${text(`${whole}.err`)}`);
      const expected = text(whole);
      assert.match(expected, /^done [0-9a-f]{16}\n$/m);

      // The coordinator on n1's address: every node reaches it.
      const out = join(dir, 'job.out');
      const launch = onNode('n1', 'node', [stasisBin, 'launch', '--coord-host', c.addrs.get('n1')!, '--ckpt-dir', dir, '--', 'sh', '-c', job(out)],
        { env: impl.env, timeout: 600_000 });
      await waitStep(out, 40, launch, 'the launched job');
      await checkpointAndKill(dir, 1, launch, impl.program);
      const killedAt = lastStep(out);

      // Every old host's processes onto another node.
      // STASIS_DEBUG: the loaders' steps (each TCP connection made again, in seconds) are in a failure's message.
      const moved = onNode('n1', stasisBin, ['restart', dir, '--host-map', 'n1=n3,n2=n4,n3=n1,n4=n2'], { timeout: 600_000, env: debug });
      await waitStep(out, killedAt + 40, moved, 'the restart with every rank on another node');
      await checkpointAndKill(dir, 2, moved, impl.program);
      assert.doesNotMatch(text(out), /^done /m, 'the job finished before its second kill');

      // Four old hosts onto two nodes: 4 ranks on each.
      const two = await onNode('n1', stasisBin, ['restart', dir, '--hosts', 'n2,n4'], { timeout: 600_000, env: debug });
      // Its stderr holds every loader's debug lines: the short parts (why it failed) first.
      assert.equal(two.exitCode, 0, `the restart onto n2,n4 exited ${two.exitCode}\njob's stderr ends: ${text(`${out}.err`).slice(-500)}`
        + `\ncoordinator.log ends: ${logTail(dir)}\nthe restart's stderr ends: ${two.stderr.trimEnd().split('\n').slice(-12).join('\n')}`
        + `\nthe restart's whole stderr: ${two.stderr}`);
      assert.equal(text(out), expected, `output differs from an uninterrupted run; stderr: ${text(`${out}.err`).slice(-500)}`);
    });
  }
});
