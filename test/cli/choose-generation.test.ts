// restart and inspect pick the same generation of a damaged store, and say
// which and why (issue 9, item 9).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';
import { pidAlive, waitUntil } from '../coordinator/util.js';

const counter = join(programs, 'counter');

describe('restart and inspect choose one generation', function () {
  this.timeout(90000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-choose-'); });
  afterEach(() => job.cleanup());

  let afterFirst = 0;   // the last count printed when generation 1 had committed

  /** Two committed generations of a real job, 20 counts apart, then the job killed. */
  async function twoGenerations(): Promise<void> {
    const p = job.launch([counter]);
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    afterFirst = numbers(p.lines, /^count (\d+)$/).at(-1)!;
    await p.waitFor(new RegExp(`^count ${afterFirst + 20}$`));
    await job.checkpoint();
    await job.killTree(p);
  }

  /** inspect D and restart D: the generation each used and the notice each printed. */
  async function bothOn(): Promise<{ inspected: string; inspectNotice: string; restartNotice: string; restartedAt: number }> {
    const i = await job.cli(['inspect', job.dir]);
    assert.equal(i.exitCode, 0, i.stderr);
    const r = job.restart();
    const m = await r.waitFor(/^count (\d+)$/);
    await job.killTree(r);
    return { inspected: i.stdout.split('\n')[0]!, inspectNotice: i.stderr.trim(), restartNotice: r.errLines.join('\n').trim(), restartedAt: Number(m[1]) };
  }

  it('the newest gen-* without its manifest: both use the one before, with the same one-line notice', async () => {
    await twoGenerations();
    rmSync(join(job.dir, 'gen-000002', 'manifest.json'));
    const b = await bothOn();
    const notice = `stasis: using gen-000001 of ${job.dir}: latest points at gen-000002, which has no manifest.json`;
    assert.match(b.inspected, /^generation 1 /);
    assert.equal(b.inspectNotice, notice);
    assert.equal(b.restartNotice, notice);
    assert.ok(b.restartedAt <= afterFirst + 1, `restart did not restore generation 1 (count ${b.restartedAt})`);
  });

  it('an uncommitted gen-* newer than latest is skipped by both, and named', async () => {
    await twoGenerations();
    mkdirSync(join(job.dir, 'gen-000007'));
    const b = await bothOn();
    const notice = `stasis: using gen-000002 of ${job.dir}: gen-000007 has no manifest.json (uncommitted, skipped)`;
    assert.match(b.inspected, /^generation 2 /);
    assert.equal(b.inspectNotice, notice);
    assert.equal(b.restartNotice, notice);
    assert.ok(b.restartedAt >= afterFirst + 20, `restart did not restore generation 2 (count ${b.restartedAt})`);
  });

  it('the coordinator killed after the rename of gen-000002, before latest moved: both use gen-000002, with a notice', async () => {
    // STASIS_TEST_PAUSE holds the commit of generation 2 between the rename and the move of `latest`.
    const p = job.launch([counter], { env: { STASIS_TEST_PAUSE: 'renamed@2' } });
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    const printed = () => numbers(p.lines, /^count (\d+)$/).at(-1)!;
    afterFirst = printed();
    await p.waitFor(new RegExp(`^count ${afterFirst + 20}$`));
    const pids = await job.kernelPids();
    const coordinator = job.coordinatorPid()!;
    const second = job.checkpoint().then(() => null, (e: Error) => e.message);
    const log = join(job.dir, 'coordinator.log');
    await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('test pause at renamed of generation 2'), 'generation 2 held after its rename');
    const beforeSecond = printed();
    process.kill(coordinator, 'SIGKILL');
    await waitUntil(() => !pidAlive(coordinator), 'the coordinator is gone');
    writeFileSync(join(job.dir, 'test-release'), '');
    assert.ok(await second, 'the checkpoint command did not fail');
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await p.kill9();
    assert.equal(readlinkSync(join(job.dir, 'latest')), 'gen-000001');
    assert.ok(existsSync(join(job.dir, 'gen-000002', 'manifest.json')));
    const b = await bothOn();
    const notice = `stasis: using gen-000002 of ${job.dir}: latest points at gen-000001, but gen-000002 is committed (its commit was cut off before latest moved)`;
    assert.match(b.inspected, /^generation 2 /);
    assert.equal(b.inspectNotice, notice);
    assert.equal(b.restartNotice, notice);
    assert.ok(b.restartedAt >= beforeSecond, `restart did not restore generation 2 (count ${b.restartedAt}, ${beforeSecond} printed before it)`);
  });

  it('latest intact: no notice from either', async () => {
    await twoGenerations();
    const b = await bothOn();
    assert.match(b.inspected, /^generation 2 /);
    assert.equal(b.inspectNotice, '');
    assert.equal(b.restartNotice, '');
  });
});
