// A job whose processes live on several hosts of the test cluster, joined to
// one coordinator listening on the bridge (docs/protocol.md: HELLO <origin>,
// --coord-host). Alone (with your cluster id):
// npx tsc -p tsconfig.json && STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 120000 --exit dist/test/cluster/hosts.test.js
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cluster, onNode, repoRoot, stasisBin, useCluster, type NodeResult } from './cluster.js';
import { Running } from '../helpers/stasis.js';

const programs = join(repoRoot, 'native', 'build', 'programs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
      others.push(onNode('n2', stasisBin, ['launch', '--coord', `${bridge}:${published.port}`, '--token-file', join(dir, 'token'),
        '--ckpt-dir', dir, '--', join(programs, 'origin_self'), '600', 'N2'], { timeout: 120_000 }));
      // No address, no token given: the store names both (its pid means nothing on n3: it is asked by TCP).
      others.push(onNode('n3', stasisBin, ['launch', '--ckpt-dir', dir, '--', join(programs, 'origin_self'), '600', 'N3'], { timeout: 120_000 }));
      assert.deepEqual(await waitClients(dir, 3), [hostname(), 'n2', 'n3'].sort());
      const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
      assert.equal(ck.exitCode, 0, ck.stderr);
      const gen = JSON.parse(ck.stdout).dir as string;
      const m = JSON.parse(readFileSync(join(gen, 'manifest.json'), 'utf8')) as Manifest;
      assert.deepEqual(m.processes.map((p) => `${p.host}/${p.origin}`).sort(), [`${hostname()}/${hostname()}`, 'n2/n2', 'n3/n3'].sort());
      // Named by origin: distinct even where kernel pids are equal (own pid namespaces per node).
      const images = readdirSync(gen).filter((f) => f.endsWith('.img')).sort();
      assert.deepEqual(images, m.processes.map((p) => `origin_self-${p.origin}-${p.pid}.img`).sort());
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
});
