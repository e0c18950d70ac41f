// The settings a job was launched with are kept by `stasis restart` unless
// overridden (issue 9, item 7): a requeue script need not repeat --interval.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs, type Running } from '../helpers/stasis.js';
import { waitUntil } from '../coordinator/util.js';

const counter = join(programs, 'counter');

interface Status { interval: number; keep: number; processes: number; generation: number }

/** Status once the job's process is connected (polling, the restart takes a moment). */
async function statusWhenUp(job: Job, p: Running): Promise<Status> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--status', '--json']);
    if (r.exitCode === 0) {
      const s = JSON.parse(r.stdout) as Status & { state: string };
      if (s.processes === 1 && s.state === 'running') return s;
    }
    if (p.exited || Date.now() > deadline) throw new Error(`the job never came up: ${p.tail()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('settings kept by restart', function () {
  this.timeout(90000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-settings-'); });
  afterEach(() => job.cleanup());

  it('restart without options keeps --interval and --keep; options given override them, and stick', async () => {
    // STASIS_SAVE empty, at launch and restart: stopped writes whatever the
    // test matrix sets (settings.json is checked whole; restart takes STASIS_SAVE over it).
    const stopped = { STASIS_SAVE: '' };
    const p = job.launch([counter], { flags: ['--interval', '1', '--keep', '2'], env: { STASIS_COMPRESS: 'zstd:3', ...stopped } });
    await p.waitFor(/^count 2$/);
    assert.deepEqual(JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8')), { interval: 1, keep: 2, compress: 'zstd:3' });
    await waitUntil(() => existsSync(join(job.dir, 'latest')), 'an interval checkpoint');
    await job.killTree(p);

    const r1 = job.restart(undefined, { env: stopped });
    const s1 = await statusWhenUp(job, r1);
    assert.equal(s1.interval, 1, 'restart forgot --interval');
    assert.equal(s1.keep, 2, 'restart forgot --keep');
    const g = s1.generation;
    await waitUntil(() => existsSync(join(job.dir, `gen-${String(g + 1).padStart(6, '0')}`)), 'an interval checkpoint after the restart', 20000);
    await job.killTree(r1);

    const r2 = job.restart(undefined, { flags: ['--interval', '0'], env: stopped });
    const s2 = await statusWhenUp(job, r2);
    assert.equal(s2.interval, 0);
    assert.equal(s2.keep, 2);
    assert.deepEqual(JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8')), { interval: 0, keep: 2, compress: 'zstd:3' });
    await job.killTree(r2);

    const r3 = job.restart(undefined, { env: stopped });
    assert.equal((await statusWhenUp(job, r3)).interval, 0, 'the override did not stick');
    await job.killTree(r3);
  });

  it('a corrupt settings.json is named; giving both --interval and --keep goes past it', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    await job.killTree(p);
    writeFileSync(join(job.dir, 'settings.json'), '{"interval": "soon"');
    const bad = job.restart();
    assert.notEqual(await bad.waitExit(), 0);
    assert.match(bad.errLines.join('\n'), /settings\.json: corrupt .*give --interval and --keep, or remove settings\.json/);
    const ok = job.restart(undefined, { flags: ['--interval', '0', '--keep', '0'] });
    await statusWhenUp(job, ok);
    await job.killTree(ok);
  });
});
