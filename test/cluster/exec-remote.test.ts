// A process on another host than its coordinator execs: the coordinator
// cannot look at that host's /proc, so the process says so (EXEC 1) before
// execve, and a checkpoint taken while its new image has not joined yet
// waits for it instead of taking it for gone (test/programs/exec_later.c:
// the new image joins 3 s late).
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 300000 --exit dist/test/cluster/exec-remote.test.js
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { cluster, onNode, repoRoot, stasisBin, useCluster } from './cluster.js';
import { startOnNode } from './xhost.js';
import type { Manifest } from '../../src/images/manifest.js';

const program = join(repoRoot, 'native', 'build', 'programs', 'exec_later');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
const stasis = (args: string[]) => execa('node', [stasisBin, ...args], { reject: false, stdin: 'ignore' });

async function until(what: string, cond: () => boolean, ms = 30000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(50)) if (Date.now() > end) throw new Error(`timed out: ${what}`);
}

describe('exec on another host than the coordinator (test/cluster)', function () {
  this.timeout(300_000);
  useCluster();
  let coordinator: ResultPromise | null = null;
  let procs: Array<{ host: string; kernelPid: number }> = [];

  after(async () => {
    for (const p of procs) await onNode(p.host, 'kill', ['-9', String(p.kernelPid)]).catch(() => undefined);
    coordinator?.kill('SIGKILL');
  });

  it('a checkpoint while a process on n2 is in exec (its new image not joined yet) waits for it: the generation holds it', async () => {
    const c = cluster();
    const dir = mkdtempSync(join(c.shared, 'exec-remote-'));
    const bridge = c.env.STASIS_CLUSTER_CONTROLLER!;
    coordinator = execa('node', [stasisBin, 'coordinator', '--ckpt-dir', dir, '--host', bridge, '--port', '0'], { reject: false, stdin: 'ignore' });
    await until('the coordinator listens', () => existsSync(join(dir, 'coordinator.json')));
    const coord = `${bridge}:${JSON.parse(readFileSync(join(dir, 'coordinator.json'), 'utf8')).port}`;
    const joinFlags = ['--coord', coord, '--token-file', join(dir, 'token'), '--ckpt-dir', dir];
    const out = { n2: join(dir, 'n2.out'), n3: join(dir, 'n3.out') };
    const go = join(dir, 'go');
    await startOnNode('n3', ['node', stasisBin, 'launch', ...joinFlags, '--', program, join(dir, 'never')], out.n3);
    await startOnNode('n2', ['node', stasisBin, 'launch', ...joinFlags, '--', program, go, '3'], out.n2);
    await until('both tick', () => /^tick 5$/m.test(text(out.n2)) && /^tick 5$/m.test(text(out.n3)));
    procs = JSON.parse((await stasis(['command', '--ckpt-dir', dir, '--status', '--json'])).stdout).clients;
    assert.deepEqual(procs.map((p) => p.host).sort(), ['n2', 'n3']);

    writeFileSync(go, '');
    await until('n2 execs', () => /^exec'ing at \d+$/m.test(text(out.n2)));
    const t0 = Date.now();
    const ck = await stasis(['command', '--ckpt-dir', dir, '--checkpoint', '--json']);
    assert.equal(ck.exitCode, 0, ck.stderr);
    const manifest = JSON.parse(readFileSync(join(JSON.parse(ck.stdout).dir as string, 'manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual(manifest.processes.map((p) => p.host).sort(), ['n2', 'n3'],
      `the generation (taken in ${Date.now() - t0} ms) lacks the process in exec on n2`);
    await until('n2 counts on in its new image', () => /^exec'd at \d+$/m.test(text(out.n2)) && /^tick \d+$/m.test(text(out.n2).split("exec'd at")[1] ?? ''));
    procs = JSON.parse((await stasis(['command', '--ckpt-dir', dir, '--status', '--json'])).stdout).clients;
  });
});
