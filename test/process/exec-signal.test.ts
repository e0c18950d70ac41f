// A checkpoint alone must never change what a job computes (issue 9, item
// 2): a suspend signal that reached a thread on its way into execve was
// delivered in the new image before libstasis had a handler there, and the
// default action ended the process (a shell saw status 190 = 128 + 62).
// Here checkpoints run back to back while a job forks and execs without
// pause; every child must exit as it would have without them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Job, programs, repoRoot } from '../helpers/stasis.js';
import { checkpointWhile } from '../helpers/ckpt-loop.js';

async function underCheckpoints(argv: string[], rounds: number): Promise<void> {
  const job = new Job();
  try {
    const p = job.launch(argv, { flags: ['--keep', '2'] });
    await p.waitFor(/^iter \d+$/, 60000);
    const loop = await checkpointWhile(job.dir, () => p.exited);
    await p.waitExit(60000);
    const fails = p.lines.filter((l) => l.startsWith('FAIL'));
    assert.deepEqual(fails, [], `${fails.length} children did not exit as they should (${loop.committed} checkpoints)`);
    assert.equal(p.lines.at(-1), `done ${rounds} fails=0`, p.tail());
    assert.equal(p.exitCode, 0, p.tail());
    assert.ok(loop.committed >= 20, `only ${loop.committed} checkpoints committed: ${loop.aborted.slice(0, 3).join('; ')}`);
  } finally {
    await job.cleanup();
  }
}

describe('checkpoints while a job execs', function () {
  this.timeout(180000);

  it('a C program forking and exec\'ing through every exec call, posix_spawn and system(): no child dies', () =>
    underCheckpoints([join(programs, 'exec_storm'), '300'], 300));

  it('bash: x=$(echo $i | md5sum) and /bin/true in a loop: every result right, no child dies', () =>
    underCheckpoints([join(repoRoot, 'test', 'programs', 'exec_loop.sh'), '250'], 250));
});
