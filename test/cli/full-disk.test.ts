// A checkpoint directory that fills up (a 3 MiB tmpfs, room for one
// generation of the job): the checkpoint that does not fit fails in one
// line naming the cause, its partial generation is removed, the job runs
// on, and `stasis run` resumes from the generation that fitted. Needs root
// (mount); skipped without it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Job, noBroken, numbers, programs } from '../helpers/stasis.js';

const countTo = join(programs, 'count_to');
const N = 200;
const env = { STASIS_RM: 'local' };
const count = /^count (\d+)$/;
const enospc = /ENOSPC|no space left on device/i;

describe('a full checkpoint directory', function () {
  this.timeout(120000);
  let job: Job;
  let mounted = false;
  before(function () { if (process.getuid?.() !== 0) this.skip(); });
  beforeEach(() => {
    job = new Job('stasis-full-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', job.dir]);
    mounted = true;
  });
  afterEach(async () => {
    await job.cleanup().catch(() => undefined);   // its processes; the directory is a mount point
    if (mounted) execFileSync('umount', ['-l', job.dir]);
    mounted = false;
    await job.cleanup();
  });

  it('the checkpoint that does not fit fails in one line; the job runs on; stasis run resumes from the one that fitted', async () => {
    const p = job.run([countTo, String(N)], { env });
    await p.waitFor(/^count 5$/);
    const before = numbers(p.lines, count).at(-1)!;
    const g1 = await job.checkpoint();
    assert.equal(g1.generation, 1);
    const after = numbers(p.lines, count).at(-1)!;

    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.notEqual(r.exitCode, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /checkpoint aborted, generation 2 not committed: .*/);
    assert.match(r.stderr, enospc);
    assert.deepEqual(readdirSync(job.dir).filter((n) => /gen-/.test(n)), ['gen-000001'], 'the partial generation was left');
    const now = numbers(p.lines, count).at(-1)!;
    await p.waitFor(new RegExp(`^count ${now + 10}$`));   // runs on

    // The end-of-job signal: its checkpoint does not fit either; what is kept is said.
    process.kill(p.pid, 'SIGTERM');
    assert.equal(await p.waitExit(30000), 143, p.tail());
    const said = p.errLines.filter((l) => l.startsWith('stasis: '));
    assert.equal(said.length, 1, said.join(' | '));
    assert.match(said[0]!, /^stasis: SIGTERM: checkpoint failed \(.*\); gen-000001 in .* is the newest; stopped\. Run the same command again to resume$/);
    assert.match(said[0]!, enospc);
    assert.ok(!existsSync(join(job.dir, '.gen-000003.tmp')));

    const last = job.run([countTo, String(N)], { env });
    assert.equal(await last.waitExit(60000), 0, last.tail());
    noBroken(last.lines);
    const resumed = numbers(last.lines, count);
    assert.ok(resumed[0]! > before && resumed[0]! <= after + 1, `resumed at ${resumed[0]}, not from generation 1 (${before})`);
    assert.deepEqual(last.lines, [...Array.from({ length: N - resumed[0]! }, (_, i) => `count ${resumed[0]! + i}`), 'done']);
  });
});
