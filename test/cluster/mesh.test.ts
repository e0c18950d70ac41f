// Three processes on three nodes joined each to each by TCP, with bytes in
// flight on every connection: a driver on n1 starts `ssh n2 worker` and
// `ssh n3 worker` (real sshd, the relay), both workers connect to the
// driver and worker 3 to worker 2 (test/programs/tcp_mesh.c). Checkpointed,
// everything on every node killed, restarted with n2→n4 and n3→n1: the
// driver's output (its hashes and the workers') is the uninterrupted run's.
// Alone: STASIS_CLUSTER_ID=N npx mocha --no-config --timeout 300000 --exit dist/test/cluster/mesh.test.js
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cluster, onNode, repoRoot, stasisBin, useCluster, waitFile, writeScript } from './cluster.js';
import { tcpTotals } from '../helpers/tcp-records.js';

const mesh = join(repoRoot, 'native', 'build', 'programs', 'tcp_mesh');

/** The hosts of the images of a generation (<name>-<host>-<pid>.img). */
const imageHosts = (gen: string) => new Set(readdirSync(gen).filter((f) => f.endsWith('.img')).map((f) => f.split('-').at(-2)));

describe('a TCP mesh across three nodes started through ssh (test/cluster)', function () {
  this.timeout(300_000);
  useCluster();

  it('driver on n1, workers on n2 and n3 exchanging over TCP each to each: checkpointed, all killed, restarted n2→n4 and n3→n1, output as uninterrupted', async () => {
    const c = cluster();
    const dir = join(c.shared, `mesh-${Date.now()}`);
    mkdirSync(dir);
    const coordinator = execa('node', [stasisBin, 'coordinator', '--ckpt-dir', dir, '--host', c.env.STASIS_CLUSTER_CONTROLLER!], { reject: false });
    try {
      await waitFile(join(dir, 'coordinator.json'), /"port"/, 20_000);
      const { host, port } = JSON.parse(readFileSync(join(dir, 'coordinator.json'), 'utf8')) as { host: string; port: number };
      const job = (tag: string) => writeScript(`mesh-${tag}.sh`, [
        '#!/bin/sh',
        `exec ${mesh} driver 60 200000 ${c.addrs.get('n1')} n2 n3 ssh -F ${c.env.STASIS_CLUSTER_SSH_CONFIG} > ${dir}/${tag}.out 2> ${dir}/${tag}.err`, '',
      ].join('\n'));
      const launch = (script: string) => onNode('n1', 'node', [stasisBin, 'launch', '--ckpt-dir', dir, '--coord', `${host}:${port}`, '--', script],
        { env: { STASIS_TOKEN: readFileSync(join(dir, 'token'), 'utf8').trim() }, timeout: 120_000 });

      // The workers' stderr lines, in whichever order they came.
      const errs = (tag: string) => readFileSync(join(dir, `${tag}.err`), 'utf8').split('\n').sort().join('\n');
      const whole = await launch(job('whole'));
      assert.equal(whole.exitCode, 0, whole.stderr);
      const expected = readFileSync(join(dir, 'whole.out'), 'utf8');
      assert.doesNotMatch(expected, /BROKEN/);
      assert.equal(errs('whole'), '\nworker 2: done\nworker 3: done');
      assert.match(expected, /^round 60 at 3: .*\nend at 2: .*\nworker 2 exit 7\nend at 3: .*\nworker 3 exit 7\n$/m);

      const run = launch(job('ckpt'));
      await waitFile(join(dir, 'ckpt.out'), /^round 15 at 3/m, 60_000);
      const ck = JSON.parse((await execa('node', [stasisBin, 'command', '--ckpt-dir', dir, '--checkpoint', '--json'])).stdout) as { dir: string };
      assert.deepEqual([...imageHosts(ck.dir)].sort(), ['n1', 'n2', 'n3'], 'a generation with the processes of every node');
      const records = tcpTotals(ck.dir);
      // Both ends of driver–2, driver–3 and 2–3, and of the relays' connections.
      assert.ok(records.remote >= 6, `${records.remote} connection ends with their peer on another host`);
      assert.ok(records.bytes > 0, 'no bytes in flight at the checkpoint');
      const quit = await execa('node', [stasisBin, 'command', '--ckpt-dir', dir, '--quit'], { reject: false });
      assert.equal(quit.exitCode, 0, quit.stderr);
      await run;
      await coordinator;
      assert.doesNotMatch(readFileSync(join(dir, 'ckpt.out'), 'utf8'), /worker 3 exit/, 'killed before the end');
      const r = await onNode('n1', stasisBin, ['restart', dir, '--host-map', 'n1=n1,n2=n4,n3=n1'], { timeout: 120_000 });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(readFileSync(join(dir, 'ckpt.out'), 'utf8'), expected);
      assert.equal(errs('ckpt'), errs('whole'));
    } finally {
      coordinator.kill('SIGTERM');
      await coordinator;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
