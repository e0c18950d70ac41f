// One verdict on a real store: an image that is valid by itself but is not
// the one its manifest describes is refused by inspect, and skipped by
// restart (which restores the generation before), in the same words (issue
// 9, item 10; issue 12: restart uses the newest restorable generation).
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';

const counter = join(programs, 'counter');

describe('inspect and restart agree on a store', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-verdict-'); });
  afterEach(() => job.cleanup());

  let afterFirst = 0;   // the last count printed when generation 1 had committed

  async function twoGenerations(): Promise<string> {
    const p = job.launch([counter]);
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    afterFirst = numbers(p.lines, /^count (\d+)$/).at(-1)!;
    await p.waitFor(new RegExp(`^count ${afterFirst + 6}$`));
    await job.checkpoint();
    await job.killTree(p);
    return readdirSync(join(job.dir, 'gen-000002')).find((f) => f.endsWith('.img'))!;
  }

  /**
   * inspect refuses the store with one line holding `text`; restart, which
   * restores the newest restorable generation (issue 12), skips generation 2
   * naming it in the same words and restores generation 1.
   */
  async function bothRefuse(text: RegExp): Promise<void> {
    const i = await job.cli(['inspect', job.dir]);
    assert.equal(i.exitCode, 2, i.stdout);
    assert.match(i.stderr, text);
    const r = job.restart();
    const first = Number((await r.waitFor(/^count (\d+)$/))[1]);
    await job.killTree(r);
    assert.ok(first <= afterFirst + 1, `restart did not restore generation 1 (count ${first})`);
    const why = i.stderr.trim().replace(/^stasis: /, '');
    assert.equal(r.errLines.join('\n').trim(), `stasis: using gen-000001 of ${job.dir}: gen-000002 is not restorable (${why})`, 'not the same words');
  }

  it('an image of another generation in its place: checksum differs from the manifest', async () => {
    const img = await twoGenerations();
    copyFileSync(join(job.dir, 'gen-000001', img), join(job.dir, 'gen-000002', img));
    // Another generation's image differs in size, or (same size) in checksum.
    await bothRefuse(new RegExp(`gen-000002/${img}: corrupt: (\\d+ bytes|checksum crc32c:[0-9a-f]{8}) but the manifest says`));
  });

  it('an image of another generation of the same size in its place: the image checksum tells them apart', async () => {
    // Uncompressed, the counter's images from its second checkpoint on have
    // the same size: only the checksum differs (it was a constant for a
    // given number of records: each header ends with its own crc, so a
    // running crc over whole headers forgot them).
    const p = job.launch([counter], { env: { STASIS_COMPRESS: 'none' } });
    for (const n of [2, 5, 8]) { await p.waitFor(new RegExp(`^count ${n}$`)); await job.checkpoint(); }
    await job.killTree(p);
    const img = readdirSync(join(job.dir, 'gen-000003')).find((f) => f.endsWith('.img'))!;
    const older = join(job.dir, 'gen-000002', img), newer = join(job.dir, 'gen-000003', img);
    assert.equal(statSync(older).size, statSync(newer).size, 'the test wants images of the same size');
    copyFileSync(older, newer);
    const i = await job.cli(['inspect', job.dir]);
    assert.equal(i.exitCode, 2, i.stdout);
    assert.match(i.stderr, new RegExp(`gen-000003/${img}: corrupt: checksum crc32c:[0-9a-f]{8} but the manifest says`));
    const r = job.restart();
    await r.waitFor(/^count \d+$/);
    await job.killTree(r);
    assert.match(r.errLines.join('\n'), /using gen-000002 .*gen-000003 is not restorable/);
  });

  it('an image grown by a byte: data after the END record', async () => {
    const img = await twoGenerations();
    appendFileSync(join(job.dir, 'gen-000002', img), 'x');
    await bothRefuse(new RegExp(`gen-000002/${img}: corrupt: 1 bytes of data after the END record`));
  });
});
