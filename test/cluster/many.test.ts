// A process with 500 TCP connections to a process of the same job on
// another node (test/programs/tcp_many.c): its CONNS answer and its DRAIN
// list are longer than a protocol line (docs/protocol.md: CONNS+ and DRAIN+
// lines). Checkpointed and continued, then checkpointed, killed and each
// node's images restored on that node: every number arrives once, in order.
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 300000 --exit dist/test/cluster/many.test.js
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { cluster, onNode, repoRoot, stasisBin, useCluster } from './cluster.js';
import { startOnNode } from './xhost.js';
import { tcpTotals } from '../helpers/tcp-records.js';
import { loaderArgvs } from '../../src/images/tree.js';
import type { Manifest } from '../../src/images/manifest.js';

const build = join(repoRoot, 'native', 'build');
const many = join(build, 'programs', 'tcp_many');
const CONNECTIONS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const stasis = (args: string[]) => execa('node', [stasisBin, ...args], { reject: false, stdin: 'ignore' });

/**
 * What the server printed last it had received ("server got N"), in
 * whichever of `files` (its output before and after the restart); fails on BROKEN.
 */
function got(...files: string[]): number {
  const t = files.map(text).join('\n');
  assert.doesNotMatch(t, /BROKEN|stasis/, t.split('\n').filter((l) => /BROKEN|stasis/.test(l)).join('\n'));
  const all = [...t.matchAll(/^server got (\d+)$/gm)];
  return all.length ? Number(all.at(-1)![1]) : -1;
}

async function until(what: string, cond: () => boolean, ms = 60000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(200)) if (Date.now() > end) throw new Error(`timed out: ${what}`);
}

describe(`${CONNECTIONS} TCP connections between two nodes of one job (test/cluster)`, function () {
  this.timeout(300_000);
  useCluster();
  const coordinators: ResultPromise[] = [];
  let procs: Array<{ host: string; kernelPid: number }> = [];

  async function coordinator(dir: string, expect = 0): Promise<string> {
    const bridge = cluster().env.STASIS_CLUSTER_CONTROLLER!;
    coordinators.push(execa('node', [stasisBin, 'coordinator', '--ckpt-dir', dir, '--host', bridge, '--port', '0', '--exit-on-last',
      '--expect', String(expect)], { reject: false, stdin: 'ignore' }));
    await until('the coordinator listens', () => existsSync(join(dir, 'coordinator.json')), 10000);
    return `${bridge}:${JSON.parse(readFileSync(join(dir, 'coordinator.json'), 'utf8')).port}`;
  }

  async function checkpoint(dir: string): Promise<string> {
    const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
    assert.equal(ck.exitCode, 0, ck.stderr);
    return JSON.parse(ck.stdout).dir as string;
  }

  after(async () => {
    for (const p of procs) await onNode(p.host, 'kill', ['-9', String(p.kernelPid)]).catch(() => undefined);
    for (const c of coordinators) c.kill('SIGKILL');
  });

  it('checkpointed and continued, then killed and restored each on its node: every number once, in order', async () => {
    const c = cluster();
    const dir = mkdtempSync(join(c.shared, 'many-'));
    const coord = await coordinator(dir);
    const n2 = c.addrs.get('n2')!;
    const joinFlags = ['--coord', coord, '--token-file', join(dir, 'token'), '--ckpt-dir', dir];
    const out = { server: join(dir, 'server-0.out'), client: join(dir, 'client-0.out') };
    await startOnNode('n2', ['node', stasisBin, 'launch', ...joinFlags, '--', many, 'server', n2, String(CONNECTIONS)], out.server);
    let port = '';
    await until('the server listens', () => !!(port = /^listening on (\d+)$/m.exec(text(out.server))?.[1] ?? ''), 20000);
    await startOnNode('n3', ['node', stasisBin, 'launch', ...joinFlags, '--', many, 'client', n2, port, String(CONNECTIONS)], out.client);
    await until('the server receives', () => got(out.server) > CONNECTIONS * 20);
    const r = await stasis(['command', '--ckpt-dir', dir, '--status', '--json']);
    procs = JSON.parse(r.stdout).clients;
    assert.deepEqual(procs.map((p) => p.host).sort(), ['n2', 'n3']);

    const gen1 = await checkpoint(dir);
    assert.equal(tcpTotals(gen1).remote, 2 * CONNECTIONS, 'every connection\'s two ends paired across hosts');
    let at = got(out.server);
    await until('the server goes on', () => got(out.server) > at + CONNECTIONS * 20);

    const gen2 = await checkpoint(dir);
    const exited = coordinators.at(-1)!;
    for (const p of procs) await onNode(p.host, 'kill', ['-9', String(p.kernelPid)]);
    procs = [];
    at = got(out.server);
    await Promise.race([exited, sleep(20000)]);
    const manifest = JSON.parse(readFileSync(join(gen2, 'manifest.json'), 'utf8')) as Manifest;
    const env = { STASIS_COORD: await coordinator(dir, manifest.processes.length), STASIS_CKPT_DIR: dir,
      STASIS_TOKEN: readFileSync(join(dir, 'token'), 'utf8').trim() };
    const again = { server: join(dir, 'server-1.out'), client: join(dir, 'client-1.out') };
    for (const [node, role] of [['n2', 'server'], ['n3', 'client']] as const) {
      const own = { ...manifest, processes: manifest.processes.filter((p) => p.host === node) };
      for (const argv of loaderArgvs(own, gen2)) await startOnNode(node, [join(build, 'stasis-restart'), ...argv], again[role], env);
    }
    await until(`the restored server goes on (${(text(out.server) + text(again.server)).split('\n').slice(-3).join(' | ')})`, () => got(out.server, again.server) > at + CONNECTIONS * 20, 90000);
    procs = JSON.parse((await stasis(['command', '--ckpt-dir', dir, '--status', '--json'])).stdout).clients;
  });
});
