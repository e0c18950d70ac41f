// A process of the job that cannot join (a statically linked program,
// LD_PRELOAD or STASIS_COORD taken out of its environment) makes the next
// checkpoint fail naming it: a generation never silently lacks a process.
// Once it is gone, checkpoints commit again.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, programs } from '../helpers/stasis.js';

const staticTicker = join(programs, 'static_ticker');

/** Does `prog` run with an effective uid other than ours (not on a nosuid mount)? */
async function runsSetId(prog: string): Promise<boolean> {
  const child = spawn(prog, ['5'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return uid !== null && uid[1] !== uid[2];
  } finally {
    child.kill('SIGKILL');
  }
}

describe('processes of the job that did not join', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-unjoined-'); });
  afterEach(() => job.cleanup());

  /** sh starts `child` in the background, prints its pid and waits for it, then sleeps. */
  async function refusedWhile(child: string, name: RegExp, why: RegExp): Promise<void> {
    const p = job.launch(['/bin/sh', '-c', `${child} & echo "child $!"; wait; echo reaped; sleep 30`]);
    const pid = Number((await p.waitFor(/^child (\d+)$/))[1]);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await assert.rejects(job.checkpoint(), (e: Error) => {
      assert.match(e.message, new RegExp(`process ${pid} \\(${name.source}\\) on \\S+, a child of process \\d+ \\(sh\\)`));
      assert.match(e.message, why);
      return true;
    });
    assert.ok(Date.now() - t0 < 4500, 'a process that can never join is named at once (not after the 5 s wait)');
    process.kill(pid, 'SIGKILL');
    await p.waitFor(/^reaped$/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await job.checkpoint()).generation >= 1, true, 'checkpoints commit again once it is gone');
    await job.killTree(p);
  }

  it('a child that execs a statically linked program', async () => {
    await refusedWhile(staticTicker, /static_ticker/, /statically linked/);
  });

  it('a child started without LD_PRELOAD', async () => {
    await refusedWhile('env -u LD_PRELOAD sleep 30', /sleep/, /without libstasis in LD_PRELOAD/);
  });

  it('the job\'s only process execs a statically linked program: checkpoints are refused naming it while it runs', async () => {
    const p = job.launch(['/bin/sh', '-c', `echo "root $$"; exec ${staticTicker}`]);
    const pid = Number((await p.waitFor(/^root (\d+)$/))[1]);
    await p.waitFor(/^static 60$/, 20000);   // past the 5 s the coordinator waits for a new image
    await assert.rejects(job.checkpoint(), (e: Error) => {
      assert.match(e.message, new RegExp(`process ${pid} \\(static_ticker\\) on \\S+, exec'd by process ${pid} \\(sh\\)`));
      assert.match(e.message, /statically linked/);
      return true;
    });
    await p.kill9();
  });

  it('a child running a set-user-ID program (the loader ignores LD_PRELOAD)', async function () {
    if (process.getuid?.() !== 0) this.skip();   // needs a program owned by another user
    const dir = mkdtempSync(join(tmpdir(), 'stasis-suid-'));
    try {
      const suid = join(dir, 'sleep_suid');
      copyFileSync('/bin/sleep', suid);
      chownSync(suid, 65534, 65534);
      chmodSync(suid, 0o4755);
      if (!(await runsSetId(suid))) this.skip();   // a nosuid mount
      await refusedWhile(`${suid} 30`, /sleep_suid/, /set-user-ID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a child started without STASIS_COORD', async () => {
    await refusedWhile('env -u STASIS_COORD sleep 30', /sleep/, /without STASIS_COORD/);
  });
});
