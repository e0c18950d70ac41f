// pidfds: a parent's pidfds of its child (a dup and a non-blocking one)
// still name the child after checkpoint, kill and restart, twice: poll
// says it is alive, pidfd_send_signal reaches it, and at the end the pidfd
// turns readable and waitid(P_PIDFD) reaps it with its signal.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';

describe('pidfds', function () {
  this.timeout(90000);

  it('pidfds of a child keep naming it across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'pidfd'), '150']);
      await p.waitFor(/^tick 10$/, 20000);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const last = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        const got = numbers(p.lines, /^child got (\d+)$/).at(-1) ?? 0;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^(tick ${last + 10}|BROKEN.*)$`), 30000);
        assert.ok(!r.lines.some((l) => l.startsWith('BROKEN')), r.lines.find((l) => l.startsWith('BROKEN')));
        while ((numbers(r.lines, /^child got (\d+)$/).at(-1) ?? 0) < got + 5) await r.waitFor(/^child got /, 10000, r.lines.length);
        p = r;
      }
      await p.waitFor(/^(reaped|BROKEN.*)$/, 30000);
      assert.ok(p.lines.includes('reaped'), p.lines.find((l) => l.startsWith('BROKEN')));
      assert.equal(await p.waitExit(10000), 0);
    } finally {
      await job.cleanup();
    }
  });
});
