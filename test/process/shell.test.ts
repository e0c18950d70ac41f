// A shell that runs external programs: every command is a fork and an exec.
// The children that exist at the checkpoint come back as the shell's
// children, and children started after a restart join the new coordinator
// (the restored process's environment names it).
import assert from 'node:assert/strict';
import { Job, numbers, type Running } from '../helpers/stasis.js';

const progress = /^n (\d+)$/;
const script = 'i=0; while :; do i=$((i+1)); /bin/echo "n $i"; /bin/sleep 0.05; done';

async function advance(r: Running, count: number): Promise<void> {
  while (numbers(r.lines, progress).length < count) await r.waitFor(progress, 20000, r.lines.length);
}

describe('shells running external commands', function () {
  this.timeout(60000);

  it('bash with /bin/echo and /bin/sleep children continues after checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      let p = job.launch(['/bin/bash', '-c', script]);
      await advance(p, 5);
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        assert.ok(g.generation >= round);
        const last = numbers(p.lines, progress).at(-1)!;
        await p.kill9();
        const r = job.restart();
        await advance(r, 10);
        const after = numbers(r.lines, progress);
        assert.ok(after[0]! <= last + 1, `round ${round}: resumed at ${after[0]} after ${last}`);
        for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1]! + 1, `skipped: ${after.join(',')}`);
        // The shell's new children reach the new coordinator: checkpoints still work.
        const status = await job.cli(['command', '--ckpt-dir', job.dir, '--status', '--json']);
        assert.equal(status.exitCode, 0, status.stderr);
        assert.ok(!r.errLines.some((l) => /cannot reach coordinator/.test(l)), r.errLines.join(' | '));
        p = r;
      }
      await p.kill9();
    } finally {
      await job.cleanup();
    }
  });
});
