// Failures are seen (issue 10): a failed interval checkpoint is shown on the
// job's stderr once per reason, and `stasis command --status` shows the last
// checkpoint's outcome.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';
import { waitUntil } from '../coordinator/util.js';

const unsupported = join(programs, 'unsupported');

const aborts = (dir: string) => readFileSync(join(dir, 'coordinator.log'), 'utf8').split('\n')
  .map((l) => /coordinator\[\d+\]: (interval checkpoint: checkpoint aborted, .*)$/.exec(l)?.[1]).filter((l): l is string => !!l);

describe('failed checkpoints are seen', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-seen-'); });
  afterEach(() => job.cleanup());

  it('a job holding an io_uring under --interval 1: the reason once on stderr, and in --status', async () => {
    const p = job.launch([unsupported, 'io_uring'], { flags: ['--interval', '1'] });
    await p.waitFor(/^holding fd \d+, an io_uring$/);
    await waitUntil(() => aborts(job.dir).length >= 3, 'three failed interval checkpoints', 20000);
    const shown = p.errLines.filter((l) => l.includes('checkpoint'));
    assert.deepEqual(shown, [`stasis: ${aborts(job.dir)[0]}`], 'not the first failure, once, as logged');
    assert.match(shown[0]!, /^stasis: interval checkpoint: checkpoint aborted, generation 1 not committed: .*io_uring.*not supported/);

    const text = await job.cli(['command', '--ckpt-dir', job.dir, '--status']);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /; last checkpoint \(generation \d+\) failed: process \d+ \(unsupported\) on .*io_uring.*not supported yet$/);
    const json = JSON.parse((await job.cli(['command', '--ckpt-dir', job.dir, '--status', '--json'])).stdout) as
      { lastCheckpoint: { committed: boolean; reason: string; generation: number } };
    assert.equal(json.lastCheckpoint.committed, false);
    assert.match(json.lastCheckpoint.reason, /io_uring/);
    assert.ok(json.lastCheckpoint.generation >= 3, 'aborted numbers were reused');
    assert.ok(!p.exited);
  });

  it('shown again only when the reason changes: one line per episode, not per failure', async () => {
    // Two episodes of an unsupported child, a clean stretch between them.
    const script = `${unsupported} io_uring & a=$!; sleep 3.5; kill $a; wait $a; sleep 3; `
      + `${unsupported} io_uring & b=$!; sleep 3.5; kill $b; wait $b; echo done`;
    const p = job.launch(['/bin/sh', '-c', script], { flags: ['--interval', '1'] });
    await p.waitFor(/^done$/, 30000);
    const logged = aborts(job.dir);
    const shown = p.errLines.filter((l) => l.includes('checkpoint'));
    assert.ok(logged.length >= 4, `expected failures in both episodes: ${logged.join(' | ')}`);
    assert.equal(shown.length, 2, `one line per episode: ${shown.join(' | ')}`);
    assert.notEqual(shown[0]!.replace(/generation \d+/, ''), shown[1]!.replace(/generation \d+/, ''));
    for (const l of shown) assert.ok(logged.includes(l.replace(/^stasis: /, '')), `not the log's text: ${l}`);
    assert.match(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'), /committed/, 'nothing committed between the episodes');
  });
});
