// Memory shared between the processes of a tree: MAP_SHARED anonymous
// memory, /dev/shm files (named or unlinked) with a named semaphore, SysV
// segments, process-shared semaphores. A parent and two children add to
// counters in one shared struct under one shared lock (shm_counters.h);
// after checkpoint, SIGKILL of the tree and restart — twice — the counts
// continue from the checkpoint, none is lost, and each process sees the
// others' increments: the memory is still one object. Then Python
// multiprocessing finishes with the output of an uninterrupted run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs, repoRoot, type Running, noBroken } from '../helpers/stasis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen { me: number; total: number; per: number[] }
function seen(lines: string[]): Seen[] {
  return lines.map((l) => l.match(/^seen (\d) (\d+) (\d+) (\d+) (\d+)$/)).filter((m): m is RegExpMatchArray => !!m)
    .map((m) => ({ me: Number(m[1]), total: Number(m[2]), per: [Number(m[3]), Number(m[4]), Number(m[5])] }));
}

/** Waits until every process has seen each other's count grow by `by`
 *  since the first line of this run: writes cross between processes. */
async function waitAllSeeOthers(r: Running, by: number): Promise<void> {
  const deadline = Date.now() + 30000;
  for (;;) {
    noBroken(r.lines);
    const s = seen(r.lines);
    if (s.length) {
      const base = s[0]!.per;
      const ok = [0, 1, 2].every((me) => s.some((x) => x.me === me && x.per.every((v, k) => v >= base[k]! + by)));
      if (ok) return;
    }
    if (r.exited || Date.now() > deadline) throw new Error(`the processes do not see each other's counts: ${r.tail()}`);
    await sleep(100);
  }
}

/** The shared-counter program through two rounds of checkpoint, kill, restart. */
async function counters(job: Job, argv: string[], objects: number,
  beforeRestart: (killed: Running) => void = () => undefined): Promise<void> {
  let p = job.launch(argv);
  await waitAllSeeOthers(p, 400);
  for (let round = 1; round <= 2; round++) {
    const atCheckpoint = Math.max(...seen(p.lines).map((s) => s.total));
    const g = await job.checkpoint();
    const files = readdirSync(g.dir);
    assert.equal(files.filter((f) => f.endsWith('.img.shm')).length, 3, 'each process described its shared memory');
    assert.equal(files.filter((f) => /^shm-.*\.data$/.test(f)).length, objects, `each object saved once: ${files}`);
    await job.killTree(p);
    beforeRestart(p);
    p = job.restart();
    await waitAllSeeOthers(p, 400);
    const first = seen(p.lines)[0]!;
    assert.ok(first.total > atCheckpoint, `round ${round}: counting went on from ${first.total}, printed ${atCheckpoint} before the checkpoint`);
    assert.ok(first.per.every((v) => v > 0), 'every process counted before the checkpoint');
    noBroken(p.lines);
  }
  await job.killTree(p);
}

describe('shared memory between processes', function () {
  this.timeout(120000);

  it('MAP_SHARED anonymous memory with a pshared semaphore stays shared across two C/R', async () => {
    const job = new Job();
    try { await counters(job, [join(programs, 'shm_anon')], 1); } finally { await job.cleanup(); }
  });

  for (const unlinked of [false, true]) {
    it(`a /dev/shm file and a named semaphore${unlinked ? ', both unlinked,' : ''} stay shared; contents come from the image`, async () => {
      const job = new Job();
      let name = '';
      const names = () => (name ? [join('/dev/shm', name), join('/dev/shm', `sem.${name}`)] : []);
      try {
        await counters(job, [join(programs, 'shm_posix'), ...(unlinked ? ['unlink'] : [])], 2, (killed) => {
          name ||= killed.lines.find((l) => l.startsWith('names /'))?.slice(7) ?? '';
          assert.ok(name, 'the program named its objects');
          assert.equal(existsSync(join('/dev/shm', name)), !unlinked, 'named only when not unlinked');
          // As on another node: /dev/shm is empty at restart.
          for (const f of names()) rmSync(f, { force: true });
        });
        if (!unlinked) assert.ok(names().every((f) => existsSync(f)), 'the names are back after the restart');
      } finally {
        await job.cleanup();
        for (const f of names()) rmSync(f, { force: true });
      }
    });
  }

  it('a SysV segment removed with IPC_RMID stays shared; the program keeps its id', async () => {
    const job = new Job();
    try { await counters(job, [join(programs, 'shm_sysv')], 1); } finally { await job.cleanup(); }
  });

  it('counting semaphores between producer and consumer lose and repeat nothing across two C/R', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'sem_shared')]);
      await p.waitFor(/^got 1000$/, 20000);
      for (let round = 1; round <= 2; round++) {
        await job.checkpoint();
        const last = numbers(p.lines, /^got (\d+)$/).at(-1)!;
        await job.killTree(p);
        p = job.restart();
        await p.waitFor(new RegExp(`^got ${last + 2000}$`), 30000);
        noBroken(p.lines);
      }
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});

describe('python multiprocessing', function () {
  this.timeout(120000);
  const python = '/usr/bin/python3';
  const script = join(repoRoot, 'test', 'programs', 'mp_pool.py');

  it('a Pool, a Queue and a shared Value finish with the uninterrupted output after two C/R in the middle', async function () {
    if (!existsSync(python)) { console.log(`      skipped: no ${python}`); this.skip(); }
    const job = new Job();
    try {
      const expected = execFileSync(python, [script, '300'], { encoding: 'utf8' });
      assert.match(expected, /^done$/m);
      const out = join(job.dir, 'mp_pool.out');
      let p = job.launch([python, script, '300', out]);
      for (let round = 1; round <= 2; round++) {
        await sleep(1500);
        await job.checkpoint();
        const pids = await job.kernelPids();
        assert.ok(pids.length >= 5, `the pool's processes are in the job: ${pids.length}`);
        await job.killTree(p);
        p = job.restart();
      }
      assert.equal(await p.waitExit(60000), 0, p.tail());
      assert.equal(readFileSync(out, 'utf8'), expected);
    } finally {
      await job.cleanup();
    }
  });
});
