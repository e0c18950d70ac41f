// Processes of two hosts whose pids collide (each is pid 2 of its own pid
// namespace, hosts hA and hB) in one job: checkpointed, restarted together
// on this one host, checkpointed and restarted again. Each keeps its pid and
// reaches itself by it (each learns only its own origin's pid table), and
// their images never share a name (docs/protocol.md, HELLO <origin>).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { Job, noBroken, programs, type Running } from '../helpers/stasis.js';
import { startCoordinator } from '../coordinator/util.js';
import { launchAsHost, whyNoFakeHosts } from './as-host.js';

describe('hosts: origin identity (pid namespaces as hosts)', function () {
  this.timeout(120000);
  let job: Job;
  const started: Running[] = [];
  before(async function () {
    const why = await whyNoFakeHosts();
    if (why) { console.log(`    skipped: ${why}`); this.skip(); }
  });
  beforeEach(() => { job = new Job('stasis-origin-'); });
  afterEach(async () => {
    for (const r of started.splice(0)) await r.kill9().catch(() => undefined);
    await job.cleanup();
  });

  const manifestOf = (gen: string) => JSON.parse(readFileSync(join(gen, 'manifest.json'), 'utf8')) as
    { processes: Array<{ pid: number; host: string; origin: string; image: string }> };

  it('two hosts\' pid 2 checkpointed, restarted onto one host twice: own pid, own signals, distinct images', async () => {
    const coord = await startCoordinator(job.dir);
    started.push(coord.run);
    const addr = `127.0.0.1:${coord.port}`;
    // A execs itself at tick 30 (after the first restart) and its new image forks a child.
    const a = launchAsHost('hA', addr, job.dir, [join(programs, 'origin_self'), '70', 'A', '30']);
    const b = launchAsHost('hB', addr, job.dir, [join(programs, 'origin_self'), '70', 'B']);
    started.push(a, b);
    await a.waitFor(/^A pid=2 tick=5$/);
    await b.waitFor(/^B pid=2 tick=5$/);
    const g1 = await job.checkpoint();
    const m1 = manifestOf(g1.dir);
    assert.deepEqual(m1.processes.map((p) => `${p.origin}/${p.pid}@${p.host}`).sort(), ['hA/2@hA', 'hB/2@hB']);
    assert.deepEqual(m1.processes.map((p) => p.image).sort(), ['origin_self-hA-2.img', 'origin_self-hB-2.img']);
    // QUIT: every process killed, and the user's coordinator leaves (restart starts its own).
    assert.equal((await job.cli(['command', '--ckpt-dir', job.dir, '--quit'])).exitCode, 0);
    await a.waitExit();
    await b.waitExit();
    await coord.run.waitExit();

    // Both origins now on this host: pid 2 twice, and the second checkpoint names both.
    const r1 = job.restart(undefined, { flags: ['--hosts', hostname()] });
    const seen = (tag: string, from: number) => r1.waitFor(new RegExp(`^${tag} pid=2 tick=(\\d+)$`), 20000, from);
    const from = r1.lines.length;
    await seen('A', from);
    await seen('B', from);
    const g2 = await job.checkpoint();
    const m2 = manifestOf(g2.dir);
    assert.deepEqual(m2.processes.map((p) => `${p.origin}/${p.pid}`).sort(), ['hA/2', 'hB/2']);
    assert.equal(new Set(m2.processes.map((p) => p.host)).size, 1, 'both ran on this one host');
    assert.deepEqual(readdirSync(g2.dir).filter((f) => f.endsWith('.img')).sort(), ['origin_self-hA-2.img', 'origin_self-hB-2.img']);
    // A's new image, here, still has origin hA (STASIS_ORIGIN), and so has the child it forks.
    const child = Number((await r1.waitFor(/^A child=(\d+)$/, 20000))[1]);
    const g3 = await job.checkpoint();
    assert.deepEqual(manifestOf(g3.dir).processes.map((p) => `${p.origin}/${p.pid}`).sort(), ['hA/2', `hA/${child}`, 'hB/2'].sort());
    await job.killTree(r1);

    const r2 = job.restart(undefined, { flags: ['--hosts', hostname()] });
    await r2.waitFor(/^A done$/, 30000);
    await r2.waitFor(/^B done$/, 30000);
    assert.equal(await r2.waitExit(), 0, r2.tail());
    for (const out of [a, b, r1, r2]) noBroken(out.lines);
    for (const tag of ['A', 'B']) {
      const pids = new Set([a, b, r1, r2].flatMap((o) => o.lines).filter((l) => l.startsWith(`${tag} pid=`)).map((l) => l.split(' ')[1]));
      assert.deepEqual([...pids], ['pid=2'], `${tag} saw pids ${[...pids].join(', ')}`);
    }
  });

  it('a restart whose images on another host never join ends at STASIS_RESTORE_TIMEOUT with one line naming it, killing what was restored here', async () => {
    const coord = await startCoordinator(job.dir);
    started.push(coord.run);
    const addr = `127.0.0.1:${coord.port}`;
    const a = launchAsHost('hA', addr, job.dir, [join(programs, 'origin_self'), '600', 'A']);
    const b = launchAsHost('hB', addr, job.dir, [join(programs, 'origin_self'), '600', 'B']);
    started.push(a, b);
    await a.waitFor(/^A pid=2 tick=3$/);
    await b.waitFor(/^B pid=2 tick=3$/);
    await job.checkpoint();
    assert.equal((await job.cli(['command', '--ckpt-dir', job.dir, '--quit'])).exitCode, 0);
    await coord.run.waitExit();
    // hB's new host is reached by an ssh that never gets through (a stand-in
    // for a host that drops the connection: it waits without a word).
    const bin = join(job.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'ssh'), '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
    const r = job.restart(undefined, { flags: ['--host-map', `hA=${hostname()},hB=nowhere`],
      env: { PATH: `${bin}:${process.env.PATH}`, STASIS_RESTORE_TIMEOUT: '3' } });
    assert.notEqual(await r.waitExit(30000), 0);
    assert.equal(r.errLines.filter((l) => l.trim()).pop(), 'stasis: restart: nowhere (images of hB): not restored within 3 s (STASIS_RESTORE_TIMEOUT)');
    // hA's process was restored here and held; it is gone, having never run on.
    assert.match(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'), /process 2 \(origin_self\) on \S+ \(of hA\) connected \(restored/);
    assert.deepEqual(r.lines.filter((l) => l.startsWith('A ')), []);
    const left = await execa('pgrep', ['-x', 'origin_self'], { reject: false });
    assert.equal(left.exitCode, 1, `still running: ${left.stdout}`);
  });
});
