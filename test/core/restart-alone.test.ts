// The only process of a generation runs again before its coordinator (a
// Node start) answers: the coordinator's start is not part of the restart.
// A checkpoint asked for meanwhile waits for the release, then works.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';
import { sleep } from './cases.js';

describe('restart of a one-process generation', function () {
  this.timeout(120000);

  it('runs on before its coordinator listens; a checkpoint asked for then waits for it and restores', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'counter')]);
      await p.waitFor(/^count 5$/);
      await job.checkpoint();
      await p.kill9();
      const before = numbers(p.lines, /^count (\d+)$/).at(-1)!;
      // The restart's coordinator stands still before it listens, until D/test-release appears.
      const r = job.restart(undefined, { env: { STASIS_TEST_PAUSE: 'start' } });
      await r.waitFor(/^count \d+$/);
      while (r.lines.length < 5) await r.waitFor(/^count/, 20000, r.lines.length);
      let coordinator: number | null = null;
      while (!(coordinator = job.coordinatorPid())) await sleep(20);
      const log = () => readFileSync(join(job.dir, 'coordinator.log'), 'utf8').split('\n').filter((l) => l.includes(`coordinator[${coordinator}]`));
      assert.ok(log().some((l) => l.includes('test pause at start')), log().join('\n'));
      assert.ok(!log().some((l) => l.includes('listening on')), `the coordinator listened before the program ran on:\n${log().join('\n')}`);
      const counts = numbers(r.lines, /^count (\d+)$/);
      assert.ok(counts[0]! <= before + 1 && counts[0]! > 5, `did not continue: ${before} then ${counts.join(' ')}`);
      const asked = job.checkpoint();
      await sleep(1000);
      writeFileSync(join(job.dir, 'test-release'), '');
      const g = await asked;
      assert.equal(g.generation, 2);
      const at = numbers(r.lines, /^count (\d+)$/).at(-1)!;
      assert.ok(log().findIndex((l) => l.includes('listening on')) < log().findIndex((l) => l.includes('connected (restored')), log().join('\n'));
      await r.kill9();
      const r2 = job.restart();
      await r2.waitFor(/^count \d+$/);
      const again = numbers(r2.lines, /^count (\d+)$/)[0]!;
      assert.ok(again > counts.at(-1)! && again <= at + 1, `gen 2 did not continue: ${counts.at(-1)} .. ${at}, then ${again}`);
    } finally {
      await job.cleanup();
    }
  });
});
