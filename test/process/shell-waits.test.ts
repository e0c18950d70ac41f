// Shells and python waiting for a child when the checkpoint comes: dash
// waits with wait3, python's os.system with glibc's system(), and
// subprocess.run(shell=True) starts a dash. After the restart each must see
// its child's real exit status (not the 255 or -1 of a wait that named a
// pid the kernel no longer knows).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Job, type Running } from '../helpers/stasis.js';
import { SYS_wait4, untilBlocked } from '../helpers/syscalls.js';

const python = '/usr/bin/python3';

/** Launches `argv`, checkpoints it once `waiters` of its tasks are blocked in wait4, kills and restarts it. */
async function restartedWhileWaiting(job: Job, argv: string[], waiters: number): Promise<Running> {
  const p = job.launch(argv);
  await p.waitFor(/^started$/);
  const calls = await untilBlocked(job, { [SYS_wait4]: waiters });
  assert.ok(calls.filter((c) => c === SYS_wait4).length >= waiters, `blocked in ${calls}: ${p.tail()}`);
  await job.checkpoint();
  await job.killTree(p);
  assert.ok(!p.lines.some((l) => l.startsWith('rc=') || l.startsWith('after')), `the checkpoint came too late: ${p.tail()}`);
  return job.restart();
}

describe('shells and python waiting for a child across a restart', function () {
  this.timeout(120000);

  it('dash -c: a child\'s status ($?) after wait3 blocked at the checkpoint, in dash and in a dash below it', async () => {
    const job = new Job();
    try {
      const r = await restartedWhileWaiting(job, ['/usr/bin/dash', '-c',
        'echo started; sh -c "sleep 4; exit 3"; echo rc=$?; /bin/true; echo rc=$?; exit 6'], 2);
      assert.equal(await r.waitExit(30000), 6, r.tail());
      assert.deepEqual(r.lines.filter((l) => l.startsWith('rc=')), ['rc=3', 'rc=0'], r.tail());
    } finally {
      await job.cleanup();
    }
  });

  it('sh -ec: a sleep that succeeded does not end the script', async () => {
    const job = new Job();
    try {
      const r = await restartedWhileWaiting(job, ['/bin/sh', '-ec', 'echo started; sleep 4; echo after; exit 7'], 1);
      assert.equal(await r.waitExit(30000), 7, r.tail());
      assert.ok(r.lines.includes('after'), r.tail());
    } finally {
      await job.cleanup();
    }
  });

  it('python3: subprocess.run(shell=True) and os.system return their commands\' statuses', async function () {
    if (!existsSync(python)) { console.log(`      skipped: no ${python}`); this.skip(); }
    const job = new Job();
    const script = [
      'import os, subprocess, threading',
      'out = {}',
      'def run(): out["run"] = subprocess.run("sleep 4; exit 4", shell=True).returncode',
      'def system(): out["system"] = os.waitstatus_to_exitcode(os.system("sleep 4; exit 5"))',
      'ts = [threading.Thread(target=f) for f in (run, system)]',
      '[t.start() for t in ts]',
      'print("started", flush=True)',
      '[t.join() for t in ts]',
      'print("rc=run", out["run"], "system", out["system"], flush=True)',
    ].join('\n');
    try {
      // python's waitpid, system()'s wait, and each dash's wait for its sleep
      const r = await restartedWhileWaiting(job, [python, '-c', script], 4);
      assert.equal(await r.waitExit(30000), 0, r.tail());
      assert.ok(r.lines.includes('rc=run 4 system 5'), r.tail());
    } finally {
      await job.cleanup();
    }
  });
});
