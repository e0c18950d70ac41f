// `stasis run` without a resource manager: SIGTERM or SIGINT to the driver
// checkpoints the command and stops it; the same command again resumes it,
// and the output of all the pieces is that of one uninterrupted run.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs, type Running } from '../helpers/stasis.js';

const countTo = join(programs, 'count_to');
const N = 60;
const uninterrupted = [...Array.from({ length: N }, (_, i) => `count ${i}`), 'done'];
// No resource manager, whatever the environment running the tests says.
const env = { STASIS_RM: 'local' };

const runRecord = (dir: string) => JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { restarts: number; finished: unknown };
const generations = (dir: string) => readdirSync(dir).filter((n) => /^gen-\d{6}$/.test(n)).sort();

/** Sends `sig` to the driver once the command printed `count AT`; returns the lines printed. */
async function stopAt(p: Running, at: number, sig: NodeJS.Signals): Promise<string[]> {
  await p.waitFor(new RegExp(`^count ${at}$`));
  process.kill(p.pid, sig);
  const code = await p.waitExit(30000);
  assert.equal(code, sig === 'SIGINT' ? 130 : 143, p.tail());
  const msg = p.errLines.filter((l) => l.startsWith('stasis: '));
  assert.equal(msg.length, 1, `want one line: ${p.errLines.join(' | ')}`);
  assert.match(msg[0]!, new RegExp(`^stasis: ${sig}: checkpointed gen-\\d{6} into .*; stopped\\. Run the same command again to resume$`));
  return p.lines;
}

describe('stasis run (no resource manager)', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-run-'); });
  afterEach(() => job.cleanup());

  it('SIGTERM checkpoints and stops; run again resumes; twice, then it finishes with the output of an uninterrupted run', async () => {
    const out: string[] = [];
    out.push(...await stopAt(job.run([countTo, String(N)], { env }), 10, 'SIGTERM'));
    assert.equal(runRecord(job.dir).restarts, 0);
    out.push(...await stopAt(job.run([countTo, String(N)], { env }), 30, 'SIGTERM'));
    assert.equal(runRecord(job.dir).restarts, 1);
    const last = job.run([countTo, String(N)], { env });
    assert.equal(await last.waitExit(30000), 0, last.tail());
    out.push(...last.lines);
    assert.deepEqual(out, uninterrupted);
    const rec = runRecord(job.dir);
    assert.equal(rec.restarts, 2);
    assert.ok(rec.finished, 'run.json does not say the command finished');
    assert.ok(generations(job.dir).length >= 2, 'the generations were not left');
  });

  it('10 consecutive stop/resume cycles: output as uninterrupted; restart count and generation numbers increase', async () => {
    const n = 120;
    const out: string[] = [];
    const gens: number[] = [];
    for (let i = 0; i < 10; i++) {
      const p = job.run([countTo, String(n)], { env, flags: ['--keep', '3'] });
      out.push(...await stopAt(p, 10 * (i + 1), 'SIGTERM'));
      gens.push(Number(/checkpointed gen-(\d{6})/.exec(p.errLines.join('\n'))![1]));
      assert.equal(runRecord(job.dir).restarts, i);
    }
    const last = job.run([countTo, String(n)], { env });
    assert.equal(await last.waitExit(30000), 0, last.tail());
    out.push(...last.lines);
    assert.deepEqual(out, [...Array.from({ length: n }, (_, i) => `count ${i}`), 'done']);
    assert.equal(runRecord(job.dir).restarts, 10);
    assert.ok(gens.every((g, i) => i === 0 || g > gens[i - 1]!), `generations ${gens.join(',')}`);
    assert.ok(generations(job.dir).length <= 3, '--keep 3 was not applied');
  });

  it('SIGINT (Ctrl-C) does the same; --keep 1 leaves one generation; the command\'s status is run\'s', async () => {
    const out = await stopAt(job.run([countTo, String(N)], { env, flags: ['--interval', '1', '--keep', '1'] }), 40, 'SIGINT');
    const last = job.run([countTo, String(N)], { env });
    assert.equal(await last.waitExit(30000), 0, last.tail());
    assert.deepEqual([...out, ...last.lines], uninterrupted);
    assert.equal(generations(job.dir).length, 1);

    const failing = new Job('stasis-run-status-');
    try {
      const p = failing.run(['sh', '-c', 'exit 7'], { env });
      assert.equal(await p.waitExit(30000), 7, p.tail());
      assert.equal(runRecord(failing.dir).finished, null, 'a failed command counts as finished');
    } finally { await failing.cleanup(); }
  });

  it('SIGKILL of the driver: its coordinator checkpoints and stops the job; run again resumes it, output as uninterrupted', async () => {
    const p = job.run([countTo, String(N)], { env });
    await p.waitFor(/^count 10$/);
    process.kill(p.pid, 'SIGKILL');
    await p.waitExit();
    // The command (in its own session) keeps printing to our pipe until it is checkpointed and killed.
    const deadline = Date.now() + 20000;
    while (!existsSync(join(job.dir, 'latest')) || job.coordinatorPid() !== null) {
      assert.ok(Date.now() < deadline, `the job was not checkpointed and stopped: ${p.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));   // the last lines still in the pipe
    const last = job.run([countTo, String(N)], { env });
    assert.equal(await last.waitExit(30000), 0, last.tail());
    assert.deepEqual([...p.lines, ...last.lines], uninterrupted);
    assert.match(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'), /the job driver \(stasis run, pid \d+\) is gone: checkpointing and stopping the job/);
  });

  it('refuses in one line, keeping every generation: another command, a finished one, --max-restarts reached, no command', async () => {
    const p = job.run([countTo, String(N)], { env });
    await stopAt(p, 5, 'SIGTERM');
    const before = generations(job.dir);
    const refused = async (args: string[], why: RegExp) => {
      const r = await job.cli(args, env);
      assert.notEqual(r.exitCode, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.deepEqual(generations(job.dir), before, 'a generation was lost');
    };
    await refused(['run', '--ckpt-dir', job.dir, '--', countTo, '61'], /holds checkpoints of another command/);
    await refused(['run', '--ckpt-dir', job.dir, '--max-restarts', '0', '--', countTo, String(N)], /restarted 0 time\(s\), --max-restarts 0: not restarting again/);
    await refused(['run', '--ckpt-dir', job.dir], /give the command after --/);
    await refused(['run', '--ckpt-dir', job.dir, '--interval', 'x', '--', countTo], /--interval 'x'/);
    const last = job.run([countTo, String(N)], { env, flags: ['--max-restarts', '1'] });
    assert.equal(await last.waitExit(30000), 0, last.tail());
    await refused(['run', '--ckpt-dir', job.dir, '--', countTo, String(N)], /already finished/);
    assert.ok(existsSync(join(job.dir, 'latest')));
  });
});
