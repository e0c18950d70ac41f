// A shell pipeline `producer | sort | uniq -c`: four processes joined by
// pipes (the job's own stdin/stdout between them), checkpointed in the
// middle, killed, restarted — twice — finishes with exactly the output of
// an uninterrupted run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Job, type Running } from '../helpers/stasis.js';

const pipeline = 'for i in $(seq 1 300); do echo $((i % 7)); sleep 0.01; done | sort | uniq -c';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function killJob(job: Job, p: Running): Promise<void> {
  const pids = await job.kernelPids();
  assert.ok(pids.length >= 3, `the pipeline's processes are in the job: ${pids.length}`);
  await job.killTree(p);
}

describe('shell pipelines', function () {
  this.timeout(90000);

  it('producer | sort | uniq -c gives the uninterrupted output after two C/R in the middle', async () => {
    const expected = execFileSync('/bin/bash', ['-c', pipeline], { encoding: 'utf8' }).trimEnd().split('\n');
    const job = new Job();
    try {
      let p = job.launch(['/bin/bash', '-c', pipeline]);
      for (let round = 1; round <= 2; round++) {
        await sleep(900);
        const g = await job.checkpoint();
        assert.equal(g.generation, round);
        await killJob(job, p);
        p = job.restart();
      }
      assert.equal(await p.waitExit(30000), 0, p.tail());
      assert.deepEqual(p.lines, expected);
    } finally {
      await job.cleanup();
    }
  });
});
