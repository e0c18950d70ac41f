// The job outlives its coordinator: each process says so once on stderr,
// runs on, and joins the coordinator that comes back for its store (its
// token and address from coordinator.json); that one checkpoints every
// process, and the job restarts from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, noBroken, numbers, programs } from '../helpers/stasis.js';
import { killPid, pidAlive, sleep, startCoordinator, waitUntil } from './util.js';

const tree = join(programs, 'tree');
const lost = /^stasis\[(\d+)\]: lost coordinator \S+: no checkpoints of this process until a coordinator for .* is back$/;

async function connected(job: Job, n: number): Promise<void> {
  const deadline = Date.now() + 20000;
  while ((await job.kernelPids().catch(() => [])).length !== n) {
    if (Date.now() > deadline) throw new Error(`never ${n} process(es) connected`);
    await sleep(100);
  }
}

describe('a coordinator that dies and comes back', function () {
  this.timeout(90000);
  let job: Job;
  let coordPid: number | null = null;
  beforeEach(() => { job = new Job('stasis-rejoin-'); });
  afterEach(async () => { killPid(coordPid); await job.cleanup(); });

  it('every process says so once, rejoins a new `stasis coordinator`, is checkpointed and restarted', async () => {
    const p = job.launch([tree]);
    await p.waitFor(/^tree 3$/);
    await connected(job, 3);
    const privatePid = job.coordinatorPid()!;
    killPid(privatePid);
    await waitUntil(() => !pidAlive(privatePid), 'the private coordinator is gone');
    await waitUntil(() => p.errLines.filter((l) => lost.test(l)).length === 3, 'each process said it lost the coordinator', 5000);
    const lastTree = numbers(p.lines, /^tree (\d+)$/).at(-1)!;
    await sleep(2000);
    assert.equal(p.errLines.filter((l) => lost.test(l)).length, 3, `said more than once: ${p.errLines.join(' | ')}`);
    assert.ok(numbers(p.lines, /^tree (\d+)$/).at(-1)! > lastTree + 10, 'the job runs on without its coordinator');

    // A new launch into the store gets a private coordinator of its own: the
    // orphans of the earlier run do not join it.
    const other = job.launch([join(programs, 'counter')]);
    await other.waitFor(/^count 3$/);
    await sleep(6000);
    assert.deepEqual(await job.kernelPids(), [other.pid], 'only the new program is in the new run');
    await other.kill9();
    await waitUntil(() => job.coordinatorPid() === null || !pidAlive(job.coordinatorPid()!), 'the new run\'s coordinator left');

    const coord = await startCoordinator(job.dir);
    coordPid = coord.pid;
    await connected(job, 3);
    const ck = await job.checkpoint();
    const manifest = JSON.parse(readFileSync(join(ck.dir, 'manifest.json'), 'utf8')) as { processes: unknown[] };
    assert.equal(manifest.processes.length, 3, 'the generation holds every process');
    await job.killTree(p);
    noBroken(p.lines);
    killPid(coordPid);
    await waitUntil(() => !pidAlive(coord.pid), 'the user-started coordinator is gone');

    const r = job.restart();
    while (numbers(r.lines, /^tree (\d+)$/).length < 5) await r.waitFor(/^tree \d+$/, 20000, r.lines.length);
    await r.waitFor(/^child 1 \d+$/);
    noBroken(r.lines);
    await job.killTree(r);
  });
});
