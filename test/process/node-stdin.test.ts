// A Node program reading process.stdin has fd 0 in libuv's epoll set. At a
// restart stdin is whatever the restarting command gives: /dev/null or a
// file, which epoll refuses (EPERM). The restart used to fail ("epoll fd N:
// cannot watch fd 0 again"); libuv also aborts on any later epoll_ctl
// failure on that number. plugins/epoll watches a stand-in instead, which
// wakes the loop once, so the program reads the file to its end.
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, repoRoot, type Running } from '../helpers/stasis.js';

const program = [process.execPath, join(repoRoot, 'test', 'programs', 'node_stdin.cjs')];

/** Launched with a pipe on stdin, 6 bytes read through libuv, checkpointed, killed. */
async function checkpointedReader(job: Job): Promise<void> {
  const p = job.launch(program, { stdin: 'pipe' });
  p.proc.stdin!.write('hello\n');
  await p.waitFor(/^stdin 6 bytes$/);
  await job.checkpoint();
  await job.killTree(p);
}

/** CPU milliseconds the program used over the next `ticks` ticks (100 ms each): a busy loop shows. */
async function cpuOver(r: Running, ticks: number): Promise<number> {
  const [, t0, c0] = await r.waitFor(/^tick (\d+) cpu (\d+)$/, 10000, r.lines.length);
  const [, c1] = await r.waitFor(new RegExp(`^tick ${Number(t0) + ticks} cpu (\\d+)$`), 10000 + ticks * 100);
  return Number(c1) - Number(c0);
}

describe('Node with stdin in its event loop, restarted with another stdin', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-node-stdin-'); });
  afterEach(() => job.cleanup());

  it('/dev/null: the program sees end of file, does not spin, and is checkpointed and restarted again', async () => {
    await checkpointedReader(job);
    const r = job.restart();
    await r.waitFor(/^stdin end$/, 20000);
    const cpu = await cpuOver(r, 10);
    assert.ok(cpu < 300, `${cpu} ms of CPU in 1 s of ticks: a busy loop`);
    assert.equal((await job.checkpoint()).generation, 2);
    await job.killTree(r);
    const again = job.restart();
    const [, n] = await again.waitFor(/^tick (\d+) /, 20000);
    await again.waitFor(new RegExp(`^tick ${Number(n) + 3} `));
    await job.killTree(again);
  });

  it('a 5 MB file: every byte arrives, then end of file (libuv re-arms fd 0 on the way)', async () => {
    const file = join(job.dir, 'stdin.bin');
    writeFileSync(file, Buffer.alloc(5_000_000, 7));
    await checkpointedReader(job);
    const fd = openSync(file, 'r');
    const r = job.restart(undefined, { stdin: fd });
    closeSync(fd);
    await r.waitFor(/^stdin end$/, 20000);
    const bytes = r.lines.map((l) => l.match(/^stdin (\d+) bytes$/)).reduce((n, m) => n + (m ? Number(m[1]) : 0), 0);
    assert.equal(bytes, 5_000_000);
    await r.waitFor(/^tick \d+ /, 5000, r.lines.length);
    await job.killTree(r);
  });
});
