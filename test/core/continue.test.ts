// Real programs are launched, checkpointed, killed with SIGKILL, restarted
// from the image, and must prove by their own output that they continued
// from the saved state — twice in a row.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';
import { coreCases, continueTwice, bigmemTwice, sleep } from './cases.js';

const cases = coreCases(programs);

describe('checkpoint, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  for (const c of cases) {
    it(c.name, () => continueTwice(c));
  }

  it('1 GiB of memory: the checksum still matches after each restart', () => bigmemTwice(programs, 1024));

  it('a program blocked in read() on stdin continues with the new stdin', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'blocked'), 'read'], { stdin: 'pipe' });
      await p.waitFor(/^started read$/);
      p.proc.stdin!.write('first\n');
      await p.waitFor(/^got first$/);
      await job.checkpoint();
      await p.kill9();
      const r = job.restart(undefined, { stdin: 'pipe' });
      await sleep(500);
      r.proc.stdin!.write('second\n');
      await r.waitFor(/^got second$/);
      assert.ok(!r.lines.includes('started read'), 'program started over instead of continuing');
      await job.checkpoint();
      await r.kill9();
      const r2 = job.restart(undefined, { stdin: 'pipe' });
      await sleep(500);
      r2.proc.stdin!.write('third\n');
      r2.proc.stdin!.end();
      await r2.waitFor(/^eof$/);
      assert.deepEqual(r2.lines, ['got third', 'eof']);
    } finally {
      await job.cleanup();
    }
  });

  it('a program blocked in nanosleep sleeps only what was left', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'blocked'), 'sleep', '6']);
      await p.waitFor(/^started sleep$/);
      await sleep(1000);
      await job.checkpoint();
      await p.kill9();
      assert.ok(!p.lines.some((l) => l.startsWith('slept')));
      const t0 = Date.now();
      const r = job.restart();
      await r.waitFor(/^slept 1$/, 10000);
      const waited = Date.now() - t0;
      assert.ok(waited < 5900, `sleep started over: ${waited} ms`);
      assert.ok(!r.lines.includes('started sleep'));
    } finally {
      await job.cleanup();
    }
  });
});
