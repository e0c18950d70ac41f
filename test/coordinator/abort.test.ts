// An aborted checkpoint resumes the job before it cleans up, and its number
// is never used again (issue 9, item 14).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs, type Running } from '../helpers/stasis.js';
import { Store } from '../../src/images/store.js';
import { killPid, sleep, startCoordinator } from './util.js';

const counter = join(programs, 'counter');

describe('an aborted checkpoint', function () {
  this.timeout(120000);
  let job: Job;
  let coord: { run: Running; pid: number } | null = null;
  let mounted = '';
  beforeEach(() => { job = new Job('stasis-abort-'); });
  afterEach(async () => {
    if (mounted) await execa('umount', [mounted], { reject: false });
    mounted = '';
    coord?.run.proc.kill('SIGTERM');
    if (coord) await coord.run.waitExit().catch(() => killPid(coord?.pid));
    coord = null;
    await job.cleanup();
  });

  it('resumes every process even when its directory cannot be removed, and its number is not reused', async function () {
    // What cannot be removed, even by root: a directory with a filesystem mounted on it.
    const probe = join(job.dir, 'probe');
    mkdirSync(probe);
    if ((await execa('mount', ['-t', 'tmpfs', 'tmpfs', probe], { reject: false })).exitCode !== 0) this.skip();
    await execa('umount', [probe]);

    coord = await startCoordinator(job.dir, ['--timeout', '2']);
    // Generation 1 stalls 30 s in SAVE: the coordinator gives up after 2 s.
    const p = job.launch([counter], { env: { STASIS_FAULT: 'save-slow@1' } });
    await p.waitFor(/^count 3$/);
    const tmp = join(job.dir, '.gen-000001.tmp');
    const attempt = job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    for (let i = 0; i < 100 && !existsSync(tmp); i++) await sleep(20);
    mounted = join(tmp, 'busy');
    mkdirSync(mounted);
    assert.equal((await execa('mount', ['-t', 'tmpfs', 'tmpfs', mounted], { reject: false })).exitCode, 0);
    const r = await attempt;
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /checkpoint aborted, generation 1 not committed: .*did not answer 'SAVE' within 2 s/);
    const stoppedAt = numbers(p.lines, /^count (\d+)$/).at(-1)!;
    // The process comes out of its 30 s stall, and is resumed: it counts on.
    await p.waitFor(new RegExp(`^count ${stoppedAt + 5}$`), 45000);
    const log = coord.run.errLines.join('\n');   // a user-started coordinator logs to its stderr
    assert.match(log, /cannot remove aborted generation 1: .*EBUSY.* \(its number is not used again\)/);
    assert.ok(existsSync(tmp), 'the test did not make the cleanup fail');

    const next = await job.checkpoint();
    assert.equal(next.generation, 2, 'the aborted number 1 was used again');
    assert.deepEqual(readdirSync(job.dir).filter((f) => /^gen-/.test(f)), ['gen-000002']);
  });

  it('a leftover .gen-N.tmp or .gen-N.deleting pushes the next number above it', () => {
    const store = new Store(join(job.dir, 'ckpt'));
    store.ensure();
    mkdirSync(join(store.dir, '.gen-000005.tmp'));
    assert.equal(store.nextGeneration(), 6);
    mkdirSync(join(store.dir, '.gen-000009.deleting'));
    assert.equal(store.nextGeneration(), 10);
  });
});
