// A shell pipeline `producer | sort | uniq -c`: four processes joined by
// pipes (the job's own stdin/stdout between them), checkpointed in the
// middle, killed, restarted — twice — finishes with exactly the output of
// an uninterrupted run. The same with the producer writing into a mkfifo'd
// FIFO that sort reads (`producer > fifo & sort < fifo | uniq -c`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, type Running } from '../helpers/stasis.js';

const producer = 'for i in $(seq 1 300); do echo $((i % 7)); sleep 0.01; done';
const pipeline = `${producer} | sort | uniq -c`;
// $1: the FIFO's path.
const viaFifo = `rm -f "$1"; mkfifo "$1"; ${producer} > "$1" & sort < "$1" | uniq -c; wait`;
/** How many side files of generation `dir` hold a FIFO record. */
function fifoRecords(dir: string): number {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  return (manifest.processes as Array<{ files?: Array<{ name: string }> }>).flatMap((p) => p.files ?? [])
    .filter((f) => /^fifo /m.test(readFileSync(join(dir, f.name), 'latin1'))).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function killJob(job: Job, p: Running): Promise<void> {
  const pids = await job.kernelPids();
  assert.ok(pids.length >= 3, `the pipeline's processes are in the job: ${pids.length}`);
  await job.killTree(p);
}

describe('shell pipelines', function () {
  this.timeout(90000);

  async function twoRestarts(script: string, fifo = false): Promise<void> {
    const scratch = mkdtempSync(join(tmpdir(), 'stasis-pipeline-'));
    const args = (dir: string) => ['-c', script, 'bash', join(dir, 'fifo')];
    const job = new Job();
    try {
      const expected = execFileSync('/bin/bash', args(scratch), { encoding: 'utf8' }).trimEnd().split('\n');
      let p = job.launch(['/bin/bash', ...args(job.dir)]);
      for (let round = 1; round <= 2; round++) {
        await sleep(900);
        const g = await job.checkpoint();
        assert.equal(g.generation, round);
        if (fifo) assert.ok(fifoRecords(g.dir) >= 2, 'the producer and sort both recorded the FIFO');
        await killJob(job, p);
        p = job.restart();
      }
      assert.equal(await p.waitExit(30000), 0, p.tail());
      assert.deepEqual(p.lines, expected);
    } finally {
      await job.cleanup();
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  it('producer | sort | uniq -c gives the uninterrupted output after two C/R in the middle', () => twoRestarts(pipeline));

  it('producer > fifo & sort < fifo | uniq -c (a mkfifo\'d FIFO) gives the uninterrupted output after two C/R', () =>
    twoRestarts(viaFifo, true));
});
