// Private coordinators come and go with their program; restart of an older
// generation never overwrites a newer one; stasis_checkpoint() from inside.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, programs, type Running } from '../helpers/stasis.js';
import { pidAlive, readJson, sleep, waitUntil } from './util.js';

const counter = join(programs, 'counter');
const selfckpt = join(programs, 'selfckpt');

function coordPid(dir: string): number | null {
  return readJson<{ pid: number }>(join(dir, 'coordinator.json'))?.pid ?? null;
}

/** Waits until the coordinator in coordinator.json (if any) is gone and its file removed. */
async function coordinatorGone(dir: string, pid: number, timeoutMs = 5000): Promise<void> {
  await waitUntil(() => !pidAlive(pid) && !existsSync(join(dir, 'coordinator.json')),
    `coordinator ${pid} exited and removed coordinator.json`, timeoutMs);
}

async function processesConnected(job: Job, n: number): Promise<void> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const r = await job.cli(['command', '--ckpt-dir', job.dir, '--status', '--json']);
    if (r.exitCode === 0 && (JSON.parse(r.stdout) as { processes: number }).processes === n) return;
    if (Date.now() > deadline) throw new Error(`never ${n} process(es) connected: ${r.stdout} ${r.stderr}`);
    await sleep(100);
  }
}

describe('private coordinator lifetime', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-life-'); });
  afterEach(() => job.cleanup());

  it('launch: the coordinator is published with its own pid, and exits after the program ends', async () => {
    const p = job.launch(['/bin/sh', '-c', 'echo started; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; exit 7']);
    await p.waitFor(/^started$/);
    const pid = coordPid(job.dir);
    assert.ok(pid && pid !== p.pid && pidAlive(pid), 'no live coordinator published');
    assert.equal(await p.waitExit(), 7, 'exit status is not the program\'s own');
    await coordinatorGone(job.dir, pid);
    assert.match(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'), /shutting down: last process left/);
  });

  it('launch of a program that cannot start: non-zero exit, the coordinator exits within seconds', async () => {
    const t0 = Date.now();
    const p = job.launch(['/nonexistent/program']);
    const code = await p.waitExit();
    assert.notEqual(code, 0);
    const pid = coordPid(job.dir);
    if (pid) await coordinatorGone(job.dir, pid, 5000);
    assert.ok(!existsSync(join(job.dir, 'coordinator.json')));
    assert.ok(Date.now() - t0 < 10000);
    assert.match(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'), /owner \d+ is gone/);
  });

  it('restart: the coordinator exits after the restored program ends', async () => {
    const p = job.launch([selfckpt, '10'], { stdin: 'pipe' });
    await p.waitFor(/^ready /);
    await processesConnected(job, 1);
    p.proc.stdin!.write('go\n');
    await p.waitFor(/^returned 0$/);
    await p.kill9();
    await waitUntil(() => !existsSync(join(job.dir, 'coordinator.json')), 'the first coordinator left');
    const r = job.restart();
    await r.waitFor(/^returned 1$/);
    const pid = coordPid(job.dir);
    assert.ok(pid && pidAlive(pid), 'restart published no live coordinator');
    assert.equal(await r.waitExit(), 0);
    assert.equal(r.lines.at(-1), 'done');
    await coordinatorGone(job.dir, pid);
  });
});

describe('restart of an older generation named explicitly', function () {
  this.timeout(90000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-older-'); });
  afterEach(() => job.cleanup());

  for (const how of ['gen-000001', 'gen-000001/'] as const) {
    it(`stasis restart D/${how} restores generation 1; the next checkpoint is generation 3`, async () => {
      const p = job.launch([counter]);
      await p.waitFor(/^count 5$/);
      const g1 = await job.checkpoint();
      const at1 = numbers(p.lines, /^count (\d+)$/).at(-1)!;
      await p.waitFor(/^count (\d+)$/, 20000, p.lines.length + 20);
      const g2 = await job.checkpoint();
      assert.equal(g1.generation, 1);
      assert.equal(g2.generation, 2);
      const at2 = numbers(p.lines, /^count (\d+)$/).at(-1)!;
      assert.ok(at2 > at1 + 10);
      const manifest2 = readFileSync(join(job.dir, 'gen-000002', 'manifest.json'), 'utf8');
      const mtime2 = statSync(join(job.dir, 'gen-000002')).mtimeMs;
      await p.kill9();

      const r = job.restart(join(job.dir, how));
      const first = Number((await r.waitFor(/^count (\d+)$/))[1]);
      assert.ok(first > at1 - 50 && first <= at1 + 3, `restored at ${first}: not generation 1 (count ${at1}; generation 2 had ${at2})`);
      await r.waitFor(/^count (\d+)$/, 20000, r.lines.length + 3);
      const g3 = await job.checkpoint();
      assert.equal(g3.generation, 3, 'the next checkpoint reused a generation number');
      assert.equal(readFileSync(join(job.dir, 'gen-000002', 'manifest.json'), 'utf8'), manifest2, 'generation 2 was overwritten');
      assert.equal(statSync(join(job.dir, 'gen-000002')).mtimeMs, mtime2);
      assert.equal(readlinkSync(join(job.dir, 'latest')), 'gen-000003');
      await r.kill9();

      // And generation 3 continues where the restored program was.
      const r2 = job.restart();
      const again = Number((await r2.waitFor(/^count (\d+)$/))[1]);
      assert.ok(again > first + 2, `restart from generation 3 at ${again}, not after the restored run's ${first}`);
      await r2.kill9();
    });
  }
});

describe('stasis_checkpoint() from inside the program', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-selfckpt-'); });
  afterEach(() => job.cleanup());

  async function launchAndAsk(ticks: number): Promise<Running> {
    const p = job.launch([selfckpt, String(ticks)], { stdin: 'pipe' });
    await p.waitFor(/^ready /);
    await processesConnected(job, 1);
    p.proc.stdin!.write('go\n');
    return p;
  }

  it('returns 0 in the same process, after the generation is committed', async () => {
    const p = await launchAndAsk(3);
    await p.waitFor(/^returned (-?\d+)$/);
    assert.deepEqual(p.lines.filter((l) => l.startsWith('returned')), ['returned 0']);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')), 'no generation committed');
    assert.equal(await p.waitExit(), 0);
    assert.deepEqual(p.lines.slice(1), ['returned 0', 'tick 0', 'tick 1', 'tick 2', 'done']);
  });

  it('returns 1 in a process restored from that checkpoint', async () => {
    const p = await launchAndAsk(50);
    await p.waitFor(/^returned 0$/);
    await p.kill9();
    const r = job.restart();
    assert.equal(await r.waitExit(30000), 0, r.tail());
    assert.equal(r.lines[0], 'returned 1');
    assert.ok(!r.lines.some((l) => l.startsWith('ready')), 'the program started over');
    assert.deepEqual(r.lines.slice(1), [...Array.from({ length: 50 }, (_, i) => `tick ${i}`), 'done']);
  });

  it('runs without stasis: the function is simply absent', async () => {
    const r = await execa(selfckpt, ['1'], { input: 'go\n', reject: false });
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.stdout.split('\n').slice(1), ['stasis absent', 'tick 0', 'done']);
  });

  it('a wrapper script that execs the program as its last subshell exits (pyenv\'s python3 shim) keeps the coordinator', async () => {
    // The wrapper's last $(…) child leaves after the wrapper itself left to
    // exec: the coordinator must not take that child for the last process.
    const shim = 'a=$(echo a); b=$(echo b | tr b c); c=$(readlink -f /proc/self/exe); exec "$0" 100';
    for (let round = 1; round <= 6; round++) {
      const j = new Job('stasis-shim-');
      try {
        const p = j.launch(['/bin/bash', '-c', shim, counter]);
        await p.waitFor(/^count 101$/);
        const g = await j.checkpoint();
        assert.equal(g.generation, 1, `round ${round}: the exec'd program is checkpointed`);
      } finally {
        await j.cleanup();
      }
    }
  });
});
