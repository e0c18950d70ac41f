// One verdict on a real store: an image that is valid by itself but is not
// the one its manifest describes is refused by inspect and by restart alike,
// with the same words (issue 9, item 10).
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';

const counter = join(programs, 'counter');

describe('inspect and restart agree on a store', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-verdict-'); });
  afterEach(() => job.cleanup());

  async function twoGenerations(): Promise<string> {
    const p = job.launch([counter]);
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    await p.waitFor(/^count 8$/);
    await job.checkpoint();
    await job.killTree(p);
    return readdirSync(join(job.dir, 'gen-000002')).find((f) => f.endsWith('.img'))!;
  }

  /** Both refuse the store with the same one line, holding `text`; the program never ran. */
  async function bothRefuse(text: RegExp): Promise<void> {
    const i = await job.cli(['inspect', job.dir]);
    assert.equal(i.exitCode, 2, i.stdout);
    assert.match(i.stderr, text);
    const r = job.restart();
    assert.notEqual(await r.waitExit(), 0);
    assert.equal(r.lines.length, 0, 'the program ran');
    assert.equal(r.errLines.join('\n').trim(), i.stderr.trim(), 'not the same message');
  }

  it('an image of another generation in its place: checksum differs from the manifest', async () => {
    const img = await twoGenerations();
    copyFileSync(join(job.dir, 'gen-000001', img), join(job.dir, 'gen-000002', img));
    // Another generation's image differs in size, or (same size) in checksum.
    await bothRefuse(new RegExp(`gen-000002/${img}: corrupt: (\\d+ bytes|checksum crc32c:[0-9a-f]{8}) but the manifest says`));
  });

  it('an image grown by a byte: data after the END record', async () => {
    const img = await twoGenerations();
    appendFileSync(join(job.dir, 'gen-000002', img), 'x');
    await bothRefuse(new RegExp(`gen-000002/${img}: corrupt: 1 bytes of data after the END record`));
  });
});
