// What a job inherits from whoever started it: `stasis launch` hands every
// descriptor on exactly as it got it (DESIGN: "What the job made, and what
// it inherited").
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Job, Running, programs, repoRoot, stasisBin } from '../helpers/stasis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fdHandover = join(programs, 'fd_handover');

/** Runs `cmd` with descriptors 3-9, 40 and 200 open (fd_handover open); its stdout lines. */
async function withFds(dir: string, cmd: string[]): Promise<string[]> {
  const r = await execa(fdHandover, ['open', dir, '--', ...cmd], { reject: false, stdin: 'ignore' });
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** A directory holding what redirects.sh reads: its input and a log that already has a line. */
function redirectsDir(at: string): string {
  mkdirSync(at);
  writeFileSync(join(at, 'input'), Array.from({ length: 200 }, (_, i) => `in ${i + 1}\n`).join(''));
  writeFileSync(join(at, 'log'), 'before\n');
  return at;
}

describe('descriptors inherited at launch', function () {
  this.timeout(120000);

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

  it('output a job script redirected itself survives two restarts byte for byte; its own stdout is the restarter\'s', async () => {
    const job = new Job();
    try {
      const script = join(repoRoot, 'test', 'programs', 'redirects.sh');
      const files = ['pipe_result', 'log', 'exec_file', 'both', 'read_out'];
      const plainDir = redirectsDir(join(job.dir, 'plain'));
      const plain = execa('bash', [script, plainDir, '100'], { stdin: 'ignore', reject: false });
      const dir = redirectsDir(join(job.dir, 'job'));
      let p: Running = job.launch(['bash', script, dir, '100']);
      await p.waitFor(/^started$/);
      for (let round = 1; round <= 2; round++) {
        await sleep(800);
        await job.checkpoint();
        await sleep(300);
        await job.killTree(p);
        p = job.restart();
      }
      await p.waitFor(/^all done$/, 30000);
      assert.ok(p.lines.includes('back on stdout'), `the saved stdout is the restarter's: ${p.tail()}`);
      assert.equal((await plain).exitCode, 0);
      for (const f of files)
        assert.equal(readFileSync(join(dir, f), 'latin1'), readFileSync(join(plainDir, f), 'latin1'), `${f} differs`);
    } finally {
      await job.cleanup();
    }
  });
});
