// The fault matrix of `stasis run` (issue 12) on one host: SIGKILL of the job
// driver, of the application and of the coordinator at each phase of a
// checkpoint (generation 2; generation 1 committed before). In every case
// the newest generation committed stays restorable and `stasis run` resumes
// from it, nothing committed is lost, the application runs on where it
// can (without its coordinator: stasis run starts another, which it
// rejoins), and the failure is reported in one line. The coordinator is held at a
// phase by the test-only STASIS_TEST_PAUSE (src/coordinator/test-pause.ts);
// the processes, while writing their images, by STASIS_FAULT=save-slow.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, noBroken, numbers, programs, type Running } from '../helpers/stasis.js';
import { pidAlive, sleep, waitUntil } from '../coordinator/util.js';

const countTo = join(programs, 'count_to');
const N = 300;   // 15 s of counting: the job does not end by itself before it is stopped
const uninterrupted = [...Array.from({ length: N }, (_, i) => `count ${i}`), 'done'];
const count = /^count (\d+)$/;

type Phase = 'suspend' | 'drain' | 'save' | 'saved' | 'commit' | 'renamed' | 'committed';
type Victim = 'driver' | 'application' | 'coordinator';
const phases: Phase[] = ['suspend', 'drain', 'save', 'saved', 'commit', 'renamed', 'committed'];
/** Phases at which every image of generation 2 is complete: it commits even if its process dies. */
const imagesComplete = (ph: Phase) => ['saved', 'commit', 'renamed', 'committed'].includes(ph);

const generations = (dir: string) => readdirSync(dir).filter((n) => /^gen-\d{6}$/.test(n)).sort();
const coordLog = (dir: string) => { try { return readFileSync(join(dir, 'coordinator.log'), 'utf8'); } catch { return ''; } };
const stasisLines = (r: Running) => r.errLines.filter((l) => /^stasis(\[\d+\])?: /.test(l) && !/fault injection/.test(l));

function envFor(phase: Phase): Record<string, string> {
  const env: Record<string, string> = { STASIS_RM: 'local' };
  if (phase === 'save') env.STASIS_FAULT = 'save-slow@2:3';
  else env.STASIS_TEST_PAUSE = `${phase}@2`;
  return env;
}

/** Until generation 2 is held at `phase`. */
async function held(job: Job, p: Running, phase: Phase): Promise<void> {
  await waitUntil(() => phase === 'save' ? p.errLines.some((l) => /fault injection: save-slow/.test(l))
    : coordLog(job.dir).includes(`test pause at ${phase} of generation 2`), `generation 2 held at ${phase}`);
}

/**
 * `stasis run` again: it must resume from a generation taken after `fromCount`
 * was printed, and go on without a gap. With `toEnd` it runs to the end
 * (its lines are returned); else it is stopped after 20 lines.
 */
async function resume(job: Job, before: Running, fromCount: number, toEnd = false): Promise<string[]> {
  const last = job.run([countTo, String(N)], { env: { STASIS_RM: 'local' } });
  if (toEnd) assert.equal(await last.waitExit(60000), 0, last.tail());
  else {
    while (last.lines.length < 20) await last.waitFor(count, 20000, last.lines.length);
    process.kill(last.pid, 'SIGTERM');
    await last.waitExit(30000);
  }
  noBroken(last.lines);
  const resumed = numbers(last.lines, count);
  assert.ok(resumed[0]! > fromCount, `resumed at ${resumed[0]}, before generation 1 (${fromCount})`);
  assert.ok(resumed[0]! <= numbers(before.lines, count).at(-1)! + 1, `resumed at ${resumed[0]}, past the last count printed`);
  assert.deepEqual(last.lines, uninterrupted.slice(resumed[0]!, resumed[0]! + last.lines.length), 'the resumed run skipped or repeated a line');
  return last.lines;
}

describe('stasis run: the fault matrix (SIGKILL at each checkpoint phase)', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-faults-'); });
  afterEach(() => job.cleanup());

  it('SIGKILL of one process of a two-process application at drain: the checkpoint aborts in one line, the other runs on and is checkpointed and resumed', async () => {
    // The root (count_to N) has a child of its own (count_to writing to /dev/null), never waited for.
    const script = `${countTo} 400 /dev/null & exec ${countTo} ${N}`;   // the child ends a little after the root
    const p = job.run(['/bin/sh', '-c', script], { env: envFor('drain') });
    await p.waitFor(/^count 5$/);
    const atG1 = numbers(p.lines, count).at(-1)!;
    assert.equal((await job.checkpoint()).generation, 1);
    const child = (await job.kernelPids()).find((pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('/dev/null'); } catch { return false; } });
    assert.ok(child, 'the child is not in the job');
    const second = job.checkpoint().then(() => null, (e: Error) => e.message);
    await held(job, p, 'drain');
    process.kill(child, 'SIGKILL');
    writeFileSync(join(job.dir, 'test-release'), '');
    const failed = await second;
    assert.ok(failed, 'generation 2 committed without the process that died');
    assert.equal(failed.split('\n').length, 1, failed);
    assert.match(failed, /checkpoint aborted, generation 2 not committed: process \d+ \(count_to\) .*disconnected/);
    const lastCount = numbers(p.lines, count).at(-1)!;
    await p.waitFor(new RegExp(`^count ${lastCount + 10}$`), 10000);
    assert.equal((await job.checkpoint()).generation, 3);
    process.kill(p.pid, 'SIGTERM');
    assert.equal(await p.waitExit(30000), 143, p.tail());
    assert.match(stasisLines(p).at(-1)!, /^stasis: SIGTERM: checkpointed gen-000004 into .*; stopped/);
    await sleep(300);
    const last = job.run(['/bin/sh', '-c', script], { env: { STASIS_RM: 'local' } });
    assert.equal(await last.waitExit(60000), 0, last.tail());
    noBroken(last.lines);
    assert.ok(numbers(last.lines, count)[0]! > atG1);
    assert.deepEqual([...p.lines, ...last.lines], uninterrupted);
  });

  it('SIGKILL of the coordinator the moment it is published (before stasis run first looked): replaced all the same', async () => {
    const p = job.run([countTo, String(N)], { env: { STASIS_RM: 'local' } });
    let coordPid: number | null = null;
    await waitUntil(() => (coordPid = job.coordinatorPid()) !== null, 'the coordinator published', 20000, 5);
    process.kill(coordPid!, 'SIGKILL');
    await waitUntil(() => p.errLines.some((l) => /joined coordinator/.test(l)), 'the application joined a new coordinator', 20000);
    assert.ok(p.errLines.some((l) => l.includes(`(pid ${coordPid}) died; started another`)), p.errLines.join(' | '));
    await p.waitFor(/^count \d+$/, 20000, p.lines.length);
    process.kill(p.pid, 'SIGTERM');
    assert.equal(await p.waitExit(30000), 143, p.tail());
    assert.match(stasisLines(p).at(-1)!, /^stasis: SIGTERM: checkpointed gen-000001 into .*; stopped/);
  });

  for (const victim of ['driver', 'application', 'coordinator'] as Victim[]) {
    for (const phase of phases) {
      it(`SIGKILL of the ${victim} at ${phase}`, async () => {
        const p = job.run([countTo, String(N)], { env: envFor(phase) });
        await p.waitFor(/^count 5$/);
        const atG1 = numbers(p.lines, count).at(-1)!;   // the checkpoint is taken after it
        const g1 = await job.checkpoint();
        assert.equal(g1.generation, 1);
        const [appPid] = await job.kernelPids();
        const coordPid = job.coordinatorPid()!;
        const second = job.checkpoint().then(() => null, (e: Error) => e.message);
        await held(job, p, phase);
        const pid = victim === 'driver' ? p.pid : victim === 'application' ? appPid! : coordPid;
        process.kill(pid, 'SIGKILL');
        await waitUntil(() => !pidAlive(pid) || (victim === 'driver' && p.exited), `${victim} ${pid} is gone`);
        if (phase !== 'save') writeFileSync(join(job.dir, 'test-release'), '');
        const failed = await second;

        if (victim === 'driver') {
          // Generation 2 goes on; then the coordinator checkpoints and stops the job.
          assert.equal(failed, null, `generation 2 failed: ${failed}`);
          await waitUntil(() => !pidAlive(coordPid), 'the coordinator stopped the job', 30000);
          assert.match(coordLog(job.dir), /the job driver \(stasis run, pid \d+\) is gone: checkpointing and stopping the job/);
          assert.match(coordLog(job.dir), /generation 3 committed; the job is stopped/);
          await sleep(300);   // the last lines still in the pipe
          assert.deepEqual([...p.lines, ...await resume(job, p, atG1, true)], uninterrupted);
          return;
        }

        if (victim === 'application') {
          // Its image complete, generation 2 commits; else it is aborted and generation 1 stays.
          if (imagesComplete(phase)) assert.equal(failed, null, `generation 2 failed: ${failed}`);
          else {
            assert.ok(failed, 'generation 2 committed without the process that died');
            assert.equal(failed.split('\n').length, 1, failed);
            assert.match(failed, /checkpoint aborted, generation 2 not committed: process \d+ \(count_to\) .*(died or )?disconnected/);
          }
          assert.equal(await p.waitExit(30000), 137, p.tail());
          const said = stasisLines(p);
          assert.equal(said.length, 1, `want one line: ${said.join(' | ')}`);
          const newest = imagesComplete(phase) ? 'gen-000002' : 'gen-000001';
          assert.match(said[0]!, new RegExp(`^stasis: the command was killed by SIGKILL; ${newest} in .* is the newest generation: run the same command again to resume from it$`));
          assert.deepEqual(generations(job.dir), imagesComplete(phase) ? ['gen-000001', 'gen-000002'] : ['gen-000001']);
          await resume(job, p, atG1);
          return;
        }

        // The coordinator: generation 2 is not committed unless it was (renamed, committed). The
        // application runs on, says once that its coordinator is gone, and rejoins the one stasis run starts.
        assert.ok(failed, 'the checkpoint command did not fail');
        assert.equal(failed.split('\n').length, 1, failed);
        await waitUntil(() => p.errLines.some((l) => /joined coordinator/.test(l)), 'the application joined a new coordinator', 20000);
        const lastCount = numbers(p.lines, count).at(-1)!;
        await p.waitFor(new RegExp(`^count ${lastCount + 10}$`), 10000);
        assert.equal(p.errLines.filter((l) => /lost coordinator/.test(l)).length, 1, p.errLines.join(' | '));
        const committed2 = phase === 'renamed' || phase === 'committed';
        assert.deepEqual(generations(job.dir), committed2 ? ['gen-000001', 'gen-000002'] : ['gen-000001']);
        // The end-of-job signal checkpoints through the new coordinator: nothing since is lost.
        process.kill(p.pid, 'SIGTERM');
        assert.equal(await p.waitExit(30000), 143, p.tail());
        const said = stasisLines(p).filter((l) => !/(lost|joined) coordinator/.test(l));
        assert.equal(said.length, 2, `want two lines: ${said.join(' | ')}`);
        assert.match(said[0]!, new RegExp(`^stasis: the coordinator of .* \\(pid ${coordPid}\\) died; started another, the command's processes rejoin it \\(log: .*coordinator\\.log\\)$`));
        assert.match(said[1]!, /^stasis: SIGTERM: checkpointed gen-000003 into .*; stopped\. Run the same command again to resume$/);
        await sleep(300);   // the last lines still in the pipe
        assert.deepEqual([...p.lines, ...await resume(job, p, atG1, true)], uninterrupted);
      });
    }
  }
});
