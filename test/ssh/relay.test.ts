// ssh inside a job goes through the relay (native/launch/relay*.c): the
// remote command runs in the job, behaves as under plain ssh, and a job
// checkpointed while it talks to it restarts with the same output.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Job, programs, repoRoot, type Running } from '../helpers/stasis.js';
import { startSshd, type Sshd } from './sshd.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** stderr without libstasis's own lines (ssh itself in the job, without the relay, adds some). */
const sshSaid = (err: string) => err.split('\n').filter((l) => !l.startsWith('stasis['));

describe('ssh inside a job (the relay)', function () {
  this.timeout(120000);
  let sshd: Sshd;
  let job: Job;
  before(async () => { sshd = await startSshd(); });
  after(() => sshd?.stop());
  beforeEach(() => { job = new Job('stasis-relay-'); });
  afterEach(() => job.cleanup());

  const ssh = () => `ssh -F ${sshd.config} -p ${sshd.port} 127.0.0.1`;
  async function finish(r: Running) {
    await r.waitExit(60000);
    return { code: r.exitCode, out: r.lines.join('\n'), err: r.errLines.join('\n') };
  }

  it('runs the remote command in the job, with stdin, stdout, stderr and status as plain ssh', async () => {
    const remote = `'echo out; echo err >&2; cat; grep -q libstasis /proc/$$/maps && echo in-job; exit 3'`;
    const script = `printf 'from stdin\\n' | ${ssh()} ${remote}; echo "status $?"`;
    const relayed = await finish(job.launch(['sh', '-c', script]));
    assert.equal(relayed.out, 'out\nfrom stdin\nin-job\nstatus 3', relayed.err);
    assert.equal(relayed.err, 'err');
    // The same without the relay: the command is not in the job, all else alike.
    const plain = await finish(job.launch(['sh', '-c', script], { env: { STASIS_RELAY: 'off' } }));
    assert.equal(plain.out, relayed.out.replace('in-job\n', ''));
    assert.deepEqual(sshSaid(plain.err), sshSaid(relayed.err));
  });

  it('runs ssh as given when the other side cannot join the job (no checkpoint directory there)', async () => {
    // The remote side finds no <ckpt-dir>/token: as on a host that does not share the directory.
    const script = `rm "$STASIS_CKPT_DIR/token"; printf 'x\\n' | ${ssh()} 'cat; echo err >&2; grep -q libstasis /proc/$$/maps || echo outside; exit 5'; echo "status $?"`;
    const r = await finish(job.launch(['sh', '-c', script]));
    assert.equal(r.out, 'x\noutside\nstatus 5', r.err);
    assert.deepEqual(sshSaid(r.err), ['err']);
  });

  it('a shell that execs ssh along a PATH whose first directories have none reaches the real ssh, relayed', async () => {
    // dash's `exec ssh` (as an ssh wrapper script, e.g. a launcher's rsh agent, does) tries
    // execve on every PATH entry in turn: only an exec of an existing ssh is the relay's.
    const script = `PATH=/nonexistent-stasis-dir:$PATH; exec ${ssh()} 'grep -q libstasis /proc/$$/maps && echo in-job'`;
    const r = await finish(job.launch(['sh', '-c', script]));
    assert.equal(r.out, 'in-job', r.err);
    assert.equal(r.code, 0);
  });

  it('passes ssh\'s own failure through: status 255 and its message', async () => {
    const script = `ssh -F ${sshd.config} -p 1 127.0.0.1 true; echo "status $?"`;
    const relayed = await finish(job.launch(['sh', '-c', script]));
    const plain = await finish(job.launch(['sh', '-c', script], { env: { STASIS_RELAY: 'off' } }));
    assert.equal(relayed.out, 'status 255');
    assert.equal(relayed.out, plain.out);
    assert.match(relayed.err, /^ssh: connect to host 127.0.0.1 port 1: Connection refused/);
    assert.deepEqual(sshSaid(relayed.err), sshSaid(plain.err));
  });

  it('a job checkpointed while ssh is still logging in logs in again after the restart, output as uninterrupted', async () => {
    // The login takes 3 s (a proxy that waits, then forwards through the same sshd).
    const slow = `ProxyCommand=sh -c "sleep 3; exec ssh -F ${sshd.config} -p ${sshd.port} -W %h:%p 127.0.0.1"`;
    const driver = [join(programs, 'relay_driver'), '10', '1000', 'ssh', '-F', sshd.config, '-p', String(sshd.port), '-o', slow,
      '127.0.0.1', join(programs, 'relay_worker')];
    const whole = await finish(job.launch(driver));
    assert.equal(whole.code, 0, whole.err);
    assert.match(whole.out, /^worker end: 10 rounds, total [0-9a-f]+\ncommand exit 7$/m);

    const p = job.launch(driver);
    await sleep(1500);
    const ck = await job.checkpoint();
    assert.equal(ck.generation, 1);
    await job.killTree(p);
    assert.deepEqual(p.lines, [], 'nothing ran before the kill');
    const r = job.restart();
    await r.waitExit(60000);
    assert.equal(r.lines.join('\n'), whole.out, r.errLines.join('\n'));
    assert.equal(r.exitCode, 0);
  });

  it('a job talking to a remote worker is checkpointed, killed and restarted with the same output', async function () {
    // The relay's two ends are two trees of the job (the remote side is not
    // a child of the local one): their connections are made again between
    // two loaders, through the coordinator (the xtcp branch's loader_xtcp.c).
    if (!existsSync(join(repoRoot, 'native', 'plugins', 'socket', 'loader_xtcp.c'))) this.skip();
    const driver = [join(programs, 'relay_driver'), '40', '200000', ...ssh().split(' '), join(programs, 'relay_worker')];
    const whole = await finish(job.launch(driver));
    assert.equal(whole.code, 0, whole.err);
    const expected = whole.out.split('\n');
    assert.equal(expected.at(-1), 'command exit 7');
    assert.equal(whole.err, 'worker stderr: done');

    const p = job.launch(driver);
    await p.waitFor(/^round 10 /);
    const ck = await job.checkpoint();
    assert.equal(ck.generation, 1);
    await sleep(300);
    await job.killTree(p);
    const r = job.restart();
    await r.waitExit(60000);
    // What ran before the kill and what ran after the restart overlap, and
    // together are the uninterrupted run's output, line for line.
    const before = p.lines;
    const after = r.lines;
    assert.deepEqual(before, expected.slice(0, before.length), 'before the kill');
    const at = expected.indexOf(after[0]!);
    assert.ok(at > 0 && at <= before.length, `restart resumed at "${after[0]}" (${r.errLines.join('\n')})`);
    assert.deepEqual(after, expected.slice(at), r.errLines.join('\n'));
    assert.equal(r.exitCode, 0);
    assert.equal(r.errLines.join('\n'), 'worker stderr: done');
  });
});
