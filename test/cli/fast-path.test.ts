// bin/stasis's fast path (native/launch/front*.c): `launch` joining a running
// coordinator and `command` without Node. Each run marked FAST has
// STASIS_FRONT=require, so that it fails (exit 99) if the fast path left the
// command to Node; NODE runs are `node bin/stasis.js`, which never takes it.
// What both do must be the same: output, errors, exit status.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FAST, fast, viaNode, type Result } from '../helpers/front.js';
import { Job, Running, programs, stasisBin } from '../helpers/stasis.js';
import { freePort, waitUntil } from '../coordinator/util.js';

const counter = join(programs, 'counter');
const fdHandover = join(programs, 'fd_handover');

/** bin/stasis as users run it: the fast path where it applies, Node for the rest. */
const plain = (args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Result> =>
  execa(stasisBin, args, { reject: false, stdin: 'ignore', env: { STASIS_FRONT: '', ...env }, cwd });

function same(a: Result, b: Result, what: string): void {
  assert.deepEqual({ exitCode: a.exitCode, stdout: a.stdout, stderr: a.stderr },
    { exitCode: b.exitCode, stdout: b.stdout, stderr: b.stderr }, what);
}

/** A user-started coordinator for job.dir; its address. */
async function coordinator(job: Job): Promise<{ host: string; port: number; token: string; proc: Running }> {
  const proc = job.stasis(['coordinator', '--ckpt-dir', job.dir]);
  const m = await proc.waitFor(/listening on ([\d.]+):(\d+)/);
  return { host: m[1]!, port: Number(m[2]), token: readFileSync(join(job.dir, 'token'), 'utf8').trim(), proc };
}

describe('bin/stasis fast path (launch joining a coordinator, command)', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-fast-'); });
  afterEach(async () => { await job.cleanup(); });

  it('numbers are printed as JavaScript prints them (String(x), x.toFixed(2))', async () => {
    const values = ['0', '1', '0.125', '0.375', '0.145', '0.135', '0.005', '0.015', '0.995', '9.995', '99.995', '2.675', '1.999',
      '0.023', '0.42', '0.1', '0.7', '100', '1234567.891', '123456789012', '9007199254740991', '1e21', '1.5e21', '0.000001',
      '0.0000001', '5e-324', '1.7976931348623157e308', '3.0e-7', '12e3'];
    const r = await execa(join(programs, 'js_numbers'), values);
    assert.deepEqual(r.stdout.split('\n'), values.map((v) => `${String(Number(v))} ${Number(v).toFixed(2)}`));
  });

  it('launch --ckpt-dir joins the running coordinator; command checkpoints, shows and quits it; the job restarts from that checkpoint', async () => {
    await coordinator(job);
    const p = job.stasis(['launch', '--ckpt-dir', job.dir, '--', counter], FAST);
    await p.waitFor(/^count 3$/);
    const st = await fast(['command', '--ckpt-dir', job.dir, '--status']);
    assert.equal(st.exitCode, 0, st.stderr);
    assert.equal(st.stdout, `running: 1 process(es), generation 0, interval 0 s, ${job.dir} — counter[${p.pid}]@${hostname()}`);
    same(st, await viaNode(['command', '--ckpt-dir', job.dir, '--status']), 'status text');
    same(await fast(['command', '--ckpt-dir', job.dir, '--status', '--json']),
      await viaNode(['command', '--ckpt-dir', job.dir, '--status', '--json']), 'status --json');

    const ck = await fast(['command', '--ckpt-dir', job.dir, '--checkpoint', '--json']);
    assert.equal(ck.exitCode, 0, ck.stderr);
    const r = JSON.parse(ck.stdout) as { generation: number; dir: string; bytes: number; seconds: number };
    assert.deepEqual(Object.keys(r), ['generation', 'dir', 'bytes', 'seconds']);
    assert.equal(r.generation, 1);
    assert.equal(r.dir, join(job.dir, 'gen-000001'));
    assert.ok(r.bytes > 0);
    const text = await fast(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /^gen-000002 \d+ bytes \d+\.\d\d s$/);
    const st2 = await fast(['command', '--ckpt-dir', job.dir, '--status']);
    assert.match(st2.stdout, /; last checkpoint: gen-000002 committed$/);
    same(st2, await viaNode(['command', '--ckpt-dir', job.dir, '--status']), 'status after checkpoints');
    const atCheckpoint = Number(p.lines.at(-1)!.split(' ')[1]);

    const quit = await fast(['command', '--ckpt-dir', job.dir, '--quit']);
    assert.deepEqual([quit.exitCode, quit.stdout], [0, 'killed every process; coordinator exits']);
    await p.waitExit();
    await waitUntil(() => job.coordinatorPid() === null, 'the coordinator left');
    const back = job.restart();
    const m = await back.waitFor(/^count (\d+)$/);
    assert.ok(Number(m[1]) <= atCheckpoint + 1 && Number(m[1]) > 0, `resumed at ${m[1]}, checkpoint near ${atCheckpoint}`);
  });

  it('launch --coord H:P takes the token from STASIS_TOKEN, --token-file or D/token, as the Node path does', async () => {
    const c = await coordinator(job);
    const tokenFile = join(job.dir, 'copy-of-token');
    writeFileSync(tokenFile, `${c.token}\n`, { mode: 0o600 });
    const address = `${c.host}:${c.port}`;
    const launched = [
      job.stasis(['launch', '--coord', address, '--', counter], { ...FAST, STASIS_TOKEN: c.token }),
      job.stasis(['launch', '--coord', address, '--token-file', tokenFile, '--', counter], FAST),
      job.stasis(['launch', '--coord', address, '--ckpt-dir', job.dir, '--', counter], FAST),
      job.stasis(['launch', '--', counter], { ...FAST, STASIS_COORD: address, STASIS_TOKEN: c.token }),
    ];
    for (const p of launched) await p.waitFor(/^count 2$/);
    const s = JSON.parse((await fast(['command', '--coord', address, '--status', '--json'], { STASIS_TOKEN: c.token })).stdout);
    assert.deepEqual(s.clients.map((x: { pid: number }) => x.pid).sort(), launched.map((p) => p.pid).sort());
    const ck = await fast(['command', '--coord', address, '--token-file', tokenFile, '--checkpoint']);
    assert.match(ck.stdout, /^gen-000001 /, ck.stderr);
  });

  it('a coordinator.json written on another node: joined when its address answers, left to Node (its error) when not', async () => {
    const c = await coordinator(job);
    // The directory as another node of a shared file system sees it: the pid means nothing here.
    const other = join(job.dir, 'seen-from-elsewhere');
    mkdirSync(other);
    writeFileSync(join(other, 'token'), `${c.token}\n`, { mode: 0o600 });
    const publish = (port: number) => writeFileSync(join(other, 'coordinator.json'),
      JSON.stringify({ host: c.host, port, pid: 1, private: false, node: 'another-node' }));
    publish(c.port);
    const p = job.stasis(['launch', '--ckpt-dir', other, '--', counter], FAST);
    await p.waitFor(/^count 1$/);
    const st = await fast(['command', '--ckpt-dir', other, '--status', '--json']);
    assert.equal(st.exitCode, 0, st.stderr);
    assert.deepEqual(JSON.parse(st.stdout).clients.map((x: { pid: number }) => x.pid), [p.pid]);
    publish(await freePort());
    for (const args of [['command', '--ckpt-dir', other, '--status'], ['launch', '--ckpt-dir', other, '--', counter]]) {
      const r = await fast(args);
      assert.equal(r.exitCode, 99, `${args.join(' ')}: ${r.stderr}`);
    }
    const n = await viaNode(['command', '--ckpt-dir', other, '--status']);
    same(await plain(['command', '--ckpt-dir', other, '--status']), n, 'a dead coordinator on another node');
    assert.match(n.stderr, /does not answer/);
  });

  it('launch hands on inherited descriptors as the Node path does, and --close-inherited closes them', async () => {
    await coordinator(job);
    const withFds = async (env: Record<string, string>, node: boolean, flags: string[] = []) => {
      const cmd = node ? ['node', stasisBin] : [stasisBin];
      const r = await execa(fdHandover, ['open', join(job.dir), '--', ...cmd, 'launch', '--ckpt-dir', job.dir, ...flags, '--', fdHandover, 'list'],
        { reject: false, stdin: 'ignore', env });
      assert.equal(r.exitCode, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    const plainRun = (await execa(fdHandover, ['open', job.dir, '--', fdHandover, 'list'], { stdin: 'ignore' })).stdout.split('\n').filter(Boolean);
    const fastRun = await withFds(FAST, false);
    assert.deepEqual(fastRun, plainRun);
    const closed = await withFds(FAST, false, ['--close-inherited']);
    assert.deepEqual(closed, plainRun.filter((l) => /^fd [012] /.test(l)));
    assert.deepEqual(await withFds({ STASIS_FRONT: '0' }, false, ['--close-inherited']), closed);
  });

  it('STASIS_INHERITED and the environment the program gets are the same on both paths', async () => {
    await coordinator(job);
    const env = async (run: typeof fast) => {
      const r = await run(['launch', '--ckpt-dir', job.dir, '--', 'sh', '-c', 'env | sort'], {});
      assert.equal(r.exitCode, 0, r.stderr);
      return r.stdout.split('\n').filter((l) => l.startsWith('STASIS_') || l.startsWith('LD_PRELOAD='))
        .map((l) => l.replace(/^(STASIS_LAUNCH_TIME|STASIS_INHERITED)=\d+/, '$1=N'));
    };
    const a = await env(fast), b = await env(viaNode);
    assert.deepEqual(a.filter((l) => !l.startsWith('STASIS_FRONT=')), b);
    assert.ok(a.some((l) => l.startsWith('STASIS_INHERITED=N ')), a.join('\n'));
  });

  it('errors: the same line and exit status on both paths', async () => {
    const c = await coordinator(job);
    const address = `${c.host}:${c.port}`;
    const bad = join(job.dir, 'bad-token');
    writeFileSync(bad, 'f'.repeat(64));
    const notDir = join(job.dir, 'a-file');
    writeFileSync(notDir, '');
    const script = join(job.dir, 'static.sh');
    writeFileSync(script, `#!${join(programs, 'static_hello')}\n`);
    chmodSync(script, 0o755);
    const empty = join(job.dir, 'empty');
    mkdirSync(empty);
    const cases: Array<[string[], Record<string, string>]> = [
      [['launch', '--ckpt-dir', job.dir], {}],
      [['launch', '--ckpt-dir', job.dir, '--'], {}],
      [['launch', '--ckpt-dir', job.dir, '--', '/no/such/program'], {}],
      [['launch', '--ckpt-dir', job.dir, '--', join(programs, 'static_hello')], {}],
      [['launch', '--ckpt-dir', job.dir, '--', script], {}],
      [['launch', '--coord', address, '--', counter], {}],
      [['launch', '--ckpt-dir', job.dir, '--interval', 'abc', '--', counter], {}],
      [['launch', '--ckpt-dir', job.dir, '--port', '70000', '--', counter], {}],
      [['launch', '--ckpt-dir', job.dir, '--keep', '1', '--keep', '2', '--', counter], {}],
      [['launch', '--ckpt-dir', '', '--', counter], {}],
      [['launch', '--ckpt-dir', job.dir, '--bogus', '--', counter], {}],
      [['launch', '--ckpt-dir', notDir, '--', counter], {}],
      [['command', '--ckpt-dir', job.dir], {}],
      [['command', '--ckpt-dir', job.dir, '--status', '--kill'], {}],
      [['command', '--ckpt-dir', job.dir, '--interval', '-3'], {}],
      [['command', '--ckpt-dir', job.dir, '--checkpoint'], {}],   // no process: the coordinator's ERROR
      [['command', '--ckpt-dir', empty, '--status'], {}],
      [['command', '--ckpt-dir', job.dir, '--token-file', bad, '--status'], {}],
      [['command', '--coord', address, '--status'], {}],
      [['command', '--coord', 'nonsense', '--status'], { STASIS_TOKEN: c.token }],
      [['command', '--coord', `127.0.0.1:${await freePort()}`, '--status'], { STASIS_TOKEN: c.token }],
      [['command', '--status'], {}],
    ];
    for (const [args, env] of cases) {
      const n = await viaNode(args, env, job.dir);
      assert.notEqual(n.exitCode, 0, args.join(' '));
      same(await plain(args, env, job.dir), n, args.join(' '));
    }
    // The one error the fast path itself says (after the command went out).
    const ck = await fast(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.deepEqual([ck.exitCode, ck.stderr], [2, 'stasis: no processes to checkpoint']);
  });

  it('the options both take mean the same: every value launch and command accept works on both paths', async () => {
    const c = await coordinator(job);
    const address = `${c.host}:${c.port}`;
    const p = job.stasis(['launch', '--ckpt-dir', job.dir, '--interval', '0', '--keep', '3', '--port', '0', '--coord-host', '127.0.0.1',
      '--allow-static', '--', counter], FAST);
    await p.waitFor(/^count 1$/);
    const q = job.stasis(['launch', '--close-inherited', '--coord', address, '--token-file', join(job.dir, 'token'), '--', counter], FAST);
    await q.waitFor(/^count 1$/);
    for (const args of [['--interval', '600'], ['--interval', '0', '--json'], ['--status'], ['--checkpoint', '--json']]) {
      const a = await fast(['command', '--ckpt-dir', job.dir, ...args]);
      assert.equal(a.exitCode, 0, `${args.join(' ')}: ${a.stderr}`);
      const b = await viaNode(['command', '--ckpt-dir', job.dir, ...args]);
      if (args[0] === '--checkpoint') assert.deepEqual(Object.keys(JSON.parse(a.stdout)), Object.keys(JSON.parse(b.stdout)));
      else same(a, b, args.join(' '));
    }
    const kill = await fast(['command', '--coord', address, '--kill', '--json'], { STASIS_TOKEN: c.token });
    assert.deepEqual([kill.exitCode, kill.stdout], [0, '{"ok":true}']);
    await p.waitExit();
    await q.waitExit();
    // Left to Node, as they need it: no coordinator yet (a private one), --with-plugin, --help.
    for (const args of [['launch', '--ckpt-dir', join(job.dir, 'new'), '--', counter], ['launch', '--help'], ['command', '--help']]) {
      const r = await fast(args);
      assert.equal(r.exitCode, 99, args.join(' '));
      assert.match(r.stderr, /^stasis: left to Node: /);
    }
  });
});
