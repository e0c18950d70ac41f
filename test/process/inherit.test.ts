// What a job inherits from whoever started it: `stasis launch` hands every
// descriptor on exactly as it got it (DESIGN: "What the job made, and what
// it inherited").
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { Job, programs, stasisBin } from '../helpers/stasis.js';

const fdHandover = join(programs, 'fd_handover');

/** Runs `cmd` with descriptors 3-9, 40 and 200 open (fd_handover open); its stdout lines. */
async function withFds(dir: string, cmd: string[]): Promise<string[]> {
  const r = await execa(fdHandover, ['open', dir, '--', ...cmd], { reject: false, stdin: 'ignore' });
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('descriptors inherited at launch', function () {
  this.timeout(60000);

  it('stasis launch hands on descriptors 3-9 and high ones with their numbers and flags, as exec does', async () => {
    const job = new Job();
    try {
      const plain = await withFds(job.dir, [fdHandover, 'list']);
      const launched = await withFds(job.dir, [stasisBin, 'launch', '--ckpt-dir', job.dir, '--', fdHandover, 'list']);
      for (const fd of [3, 4, 5, 6, 7, 9, 40, 200]) assert.ok(plain.some((l) => l.startsWith(`fd ${fd} `)), `fd ${fd} opened`);
      assert.ok(!plain.some((l) => /^fd (8|300) /.test(l)), 'close-on-exec ones do not arrive');
      assert.deepEqual(launched, plain);
    } finally {
      await job.cleanup();
    }
  });
});
