// A job whose processes live on several hosts of the test cluster, joined to
// one coordinator listening on the bridge (docs/protocol.md: HELLO <origin>,
// --coord-host). Alone (with your cluster id):
// npx tsc -p tsconfig.json && STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 120000 --exit dist/test/cluster/hosts.test.js
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cluster, onNode, repoRoot, sbatch, stasisBin, useCluster, waitJob, type NodeResult } from './cluster.js';
import { Running } from '../helpers/stasis.js';

const programs = join(repoRoot, 'native', 'build', 'programs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Manifest { processes: Array<{ pid: number; host: string; origin: string; image: string }> }

async function stasis(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa('node', [stasisBin, ...args], { reject: false, env: cluster().env, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Polls STATUS until `n` processes are connected; returns their hosts. */
async function waitClients(dir: string, n: number): Promise<string[]> {
  for (let i = 0; ; i++) {
    const r = await stasis(['command', '--ckpt-dir', dir, '--status', '--json']);
    const clients = r.exitCode === 0 ? (JSON.parse(r.stdout).clients as Array<{ host: string }>) : [];
    if (clients.length >= n) return clients.map((c) => c.host).sort();
    if (i > 100) throw new Error(`${clients.length} of ${n} processes joined: ${r.stderr}`);
    await sleep(200);
  }
}

describe('hosts: one job on several hosts (test cluster)', function () {
  this.timeout(180_000);
  useCluster();

  it('a coordinator on the bridge (--coord-host) takes processes of n2 (--coord, --token-file) and n3 (found through coordinator.json): one generation holds all three', async () => {
    const c = cluster();
    const dir = join(c.shared, `hosts-join-${Date.now()}`);
    mkdirSync(dir);
    const bridge = c.env.STASIS_CLUSTER_CONTROLLER!;
    const here = new Running(execa(stasisBin, ['launch', '--coord-host', bridge, '--ckpt-dir', dir, '--', join(programs, 'origin_self'), '600', 'R'],
      { env: c.env, buffer: false, reject: false, stdin: 'ignore' }));
    const others: Array<Promise<NodeResult>> = [];
    try {
      await here.waitFor(/^R pid=\d+ tick=2$/);
      const published = JSON.parse(readFileSync(join(dir, 'coordinator.json'), 'utf8')) as { host: string; port: number; node: string };
      assert.equal(published.host, bridge);
      assert.equal(published.node, hostname());
      // Each as pid 2 of a pid namespace of its own on its node: equal kernel pids.
      const asPid2 = (node: string, args: string[]) => onNode(node, 'unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c',
        `${[stasisBin, ...args].map(q).join(' ')} & wait $!`], { timeout: 120_000 });
      others.push(asPid2('n2', ['launch', '--coord', `${bridge}:${published.port}`, '--token-file', join(dir, 'token'),
        '--ckpt-dir', dir, '--', join(programs, 'origin_self'), '600', 'N2']));
      // No address, no token given: the store names both (its pid means nothing on n3: it is asked by TCP).
      others.push(asPid2('n3', ['launch', '--ckpt-dir', dir, '--', join(programs, 'origin_self'), '600', 'N3']));
      assert.deepEqual(await waitClients(dir, 3), [hostname(), 'n2', 'n3'].sort());
      const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
      assert.equal(ck.exitCode, 0, ck.stderr);
      const gen = JSON.parse(ck.stdout).dir as string;
      const m = JSON.parse(readFileSync(join(gen, 'manifest.json'), 'utf8')) as Manifest;
      assert.deepEqual(m.processes.map((p) => `${p.host}/${p.origin}`).sort(), [`${hostname()}/${hostname()}`, 'n2/n2', 'n3/n3'].sort());
      // Named by origin: distinct even where kernel pids are equal (own pid namespaces per node).
      const images = readdirSync(gen).filter((f) => f.endsWith('.img')).sort();
      assert.deepEqual(images, m.processes.map((p) => `origin_self-${p.origin}-${p.pid}.img`).sort());
      assert.deepEqual(m.processes.filter((p) => p.host !== hostname()).map((p) => p.pid), [2, 2]);
      // From a node, `stasis command` finds the coordinator on another host through the store.
      const st = await onNode('n2', stasisBin, ['command', '--ckpt-dir', dir, '--status', '--json']);
      assert.equal(st.exitCode, 0, st.stderr);
      assert.equal(JSON.parse(st.stdout).processes, 3);
    } finally {
      await stasis(['command', '--ckpt-dir', dir, '--quit']);
      await here.kill9();
      for (const o of others) await o;
    }
  });

  // Processes of n2 and n3 with equal pids (each tree in a pid namespace of
  // its own: parent pid 2, child pid 3, as on real hosts), a pipe between
  // parent and child, output to a file of the shared dir.
  const LINES = 30000;
  let expected = '';

  async function jobOnN2N3(name: string): Promise<{ dir: string; gen: string; pids: number[] }> {
    const c = cluster();
    if (!expected) expected = (await execa(join(programs, 'pipeline'), [String(LINES)])).stdout + '\n';
    const dir = join(c.shared, `${name}-${Date.now()}`);
    mkdirSync(dir);
    const coord = new Running(execa('node', [stasisBin, 'coordinator', '--ckpt-dir', dir, '--coord-host', c.env.STASIS_CLUSTER_CONTROLLER!],
      { env: c.env, buffer: false, reject: false, stdin: 'ignore' }));
    await coord.waitFor(/listening on/);
    const runs = ['n2', 'n3'].map((n) => onNode(n, 'unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c',
      // The output file is opened inside the job (by its shell), so it is the job's: restored with it.
      `${q(stasisBin)} launch --ckpt-dir ${q(dir)} -- sh -c ${q(`exec ${q(join(programs, 'pipeline'))} ${LINES} > ${q(join(dir, `out-${n}.txt`))}`)} & wait $!`],
      { timeout: 120_000 }));
    try {
      await waitClients(dir, 4);
      for (const n of ['n2', 'n3']) {
        const out = join(dir, `out-${n}.txt`);
        for (let i = 0; !(existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 20); i++) {
          if (i > 100) throw new Error(`${out}: no progress`);
          await sleep(100);
        }
      }
      const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
      assert.equal(ck.exitCode, 0, ck.stderr);
      const gen = JSON.parse(ck.stdout).dir as string;
      const m = JSON.parse(readFileSync(join(gen, 'manifest.json'), 'utf8')) as Manifest;
      // The same pids on both nodes (parent 2, its child whatever the namespace gave next).
      const pids = m.processes.filter((p) => p.origin === 'n2').map((p) => p.pid).sort((x, y) => x - y);
      assert.equal(pids[0], 2);
      assert.deepEqual(m.processes.map((p) => `${p.host}/${p.origin}/${p.pid}`).sort(), ['n2', 'n3'].flatMap((n) => pids.map((pid) => `${n}/${n}/${pid}`)).sort());
      return { dir, gen, pids };
    } finally {
      await stasis(['command', '--ckpt-dir', dir, '--quit']);
      for (const r of runs) await r;
      await coord.waitExit(20_000).catch(() => coord.kill9());
    }
  }

  /** While a restart runs: where its processes are, once all four joined. */
  async function placement(dir: string, restart: Promise<NodeResult>): Promise<string[]> {
    let ended: NodeResult | null = null;
    void restart.then((r) => { ended = r; });
    for (let i = 0; ; i++) {
      if (ended) throw new Error(`the restart ended before its processes were seen: ${JSON.stringify(ended)}`);
      const r = await stasis(['command', '--ckpt-dir', dir, '--status', '--json']);
      const clients = r.exitCode === 0 ? (JSON.parse(r.stdout).clients as Array<{ host: string; origin: string; pid: number }>) : [];
      if (clients.length >= 4) return clients.map((k) => `${k.host}/${k.origin}/${k.pid}`).sort();
      if (i > 150) throw new Error(`${clients.length} of 4 restored processes seen: ${r.stderr}`);
      await sleep(200);
    }
  }

  /** Each node's output file: the same as an uninterrupted run's (said briefly when not). */
  function sameOutputs(dir: string): void {
    for (const n of ['n2', 'n3']) {
      const text = readFileSync(join(dir, `out-${n}.txt`), 'utf8');
      if (text !== expected) assert.fail(`out-${n}.txt differs from an uninterrupted run: ${text.length} bytes, ends ${JSON.stringify(text.slice(-40))}`);
    }
  }

  it('restart with n2→n4, n3→n1 (n4 by ssh): the processes move, and finish with the output of an uninterrupted run; a host without mapping and an unreachable host are refused with one line, the generation intact', async () => {
    const { dir, gen, pids } = await jobOnN2N3('hosts-move');
    const before = readFileSync(join(gen, 'manifest.json'), 'utf8');

    const unmapped = await onNode('n1', stasisBin, ['restart', dir, '--host-map', 'n2=n4'], { timeout: 60_000 });
    assert.notEqual(unmapped.exitCode, 0);
    assert.equal(unmapped.stderr.trim(), 'stasis: restart: n3 in the image has no mapping: add n3=NEW to --host-map');

    // An address of the cluster's network where nobody answers: ssh gives up after seconds (no ARP
    // answer, or its ConnectTimeout), after n1's loader restored n3's processes, held until all are back.
    const nobody = cluster().env.STASIS_CLUSTER_CONTROLLER!.replace(/\.1$/, '.99');
    const unreachable = await onNode('n1', stasisBin, ['restart', dir, '--host-map', `n2=${nobody},n3=n1`], { timeout: 60_000 });
    assert.notEqual(unreachable.exitCode, 0);
    const last = unreachable.stderr.trim().split('\n').pop()!;
    assert.equal(last.replace(/(No route to host|Connection timed out)$/, 'UNREACHABLE'),
      `stasis: restart: ${nobody} (images of n2): ssh: connect to host ${nobody} port 22: UNREACHABLE`, unreachable.stderr);
    assert.match(readFileSync(join(dir, 'coordinator.log'), 'utf8'), /process 2 \(pipeline\) on n1 \(of n3\) connected \(restored/);
    assert.equal(readFileSync(join(gen, 'manifest.json'), 'utf8'), before);
    // What n1's loader restored meanwhile was killed: nothing of the job runs on.
    for (const n of ['n1', 'n4']) {
      const left = await onNode(n, 'pgrep', ['-x', 'pipeline']);
      assert.equal(left.exitCode, 1, `on ${n} the job still runs: ${left.stdout}`);
    }

    const restart = onNode('n1', stasisBin, ['restart', dir, '--host-map', 'n2=n4,n3=n1'], { timeout: 90_000 });
    assert.deepEqual(await placement(dir, restart), [...pids.map((p) => `n1/n3/${p}`), ...pids.map((p) => `n4/n2/${p}`)].sort());
    const r = await restart;
    assert.equal(r.exitCode, 0, r.stderr);
    sameOutputs(dir);
    assert.equal(readFileSync(join(gen, 'manifest.json'), 'utf8'), before);
  });

  it('restart of n2 and n3 onto one node (n1), their pids colliding there: checkpointed again, images by origin, and both finish with the output of an uninterrupted run', async () => {
    const { dir, pids } = await jobOnN2N3('hosts-one');
    // All on n1: no loader elsewhere, so --coord-host makes its coordinator reachable from here.
    const restart = onNode('n1', stasisBin, ['restart', dir, '--hosts', 'n1', '--coord-host', 'n1'], { timeout: 90_000 });
    assert.deepEqual(await placement(dir, restart), ['n2', 'n3'].flatMap((n) => pids.map((p) => `n1/${n}/${p}`)).sort());
    const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
    assert.equal(ck.exitCode, 0, ck.stderr);
    const images = readdirSync(JSON.parse(ck.stdout).dir as string).filter((f) => f.endsWith('.img')).sort();
    assert.deepEqual(images, ['n2', 'n3'].flatMap((n) => pids.map((p) => `pipeline-${n}-${p}.img`)).sort());
    const r = await restart;
    assert.equal(r.exitCode, 0, r.stderr);
    sameOutputs(dir);
  });

  it('restart inside a new Slurm allocation of n3,n4 with no flags: n2\'s processes onto n3 (the batch host), n3\'s onto n4 through srun --overlap; both finish as uninterrupted', async () => {
    const { dir, pids } = await jobOnN2N3('hosts-alloc');
    const id = await sbatch(`#!/bin/sh\nexec node ${q(stasisBin)} restart ${q(dir)}\n`, ['-N2', '--nodelist=n3,n4'], 'hosts-alloc');
    assert.deepEqual(await placement(dir, waitJob(id, 'COMPLETED', 120_000).then(() => ({ exitCode: 0, stdout: '', stderr: 'job ended' }))),
      [...pids.map((p) => `n3/n2/${p}`), ...pids.map((p) => `n4/n3/${p}`)].sort());
    await waitJob(id, 'COMPLETED', 120_000);
    sameOutputs(dir);
  });
});
