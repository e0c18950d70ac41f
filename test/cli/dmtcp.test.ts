// The dmtcp_* commands end to end: a DMTCP-style script (coordinator with a
// port file, launch joining it by port, blocking checkpoint, kill, restart)
// on a real program, whose output must go on from the checkpoint.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Job, noBroken, numbers, programs, repoRoot, Running } from '../helpers/stasis.js';
import { freePort, killPid, readJson, waitUntil } from '../coordinator/util.js';

const counter = join(programs, 'counter');
const bin = (tool: string) => join(repoRoot, 'bin', `${tool}.js`);
const COUNT = /^count (\d+)$/;

describe('dmtcp_* commands', function () {
  this.timeout(90000);
  let job: Job;
  const started: Running[] = [];
  let coordPid: number | null = null;
  beforeEach(() => { job = new Job('stasis-dmtcp-'); coordPid = null; });
  afterEach(async () => {
    for (const r of started.splice(0)) await r.kill9().catch(() => undefined);
    killPid(coordPid);
    await job.cleanup();
  });

  // The default modes, whatever the test matrix sets: settings.json is checked whole.
  const defaults = { STASIS_COMPRESS: '', STASIS_SAVE: '' };
  const run = (tool: string, args: string[], env: Record<string, string> = {}) =>
    execa(bin(tool), args, { reject: false, stdin: 'ignore', env: { ...defaults, DMTCP_CHECKPOINT_DIR: job.dir, ...env } });
  const start = (tool: string, args: string[], env: Record<string, string> = {}) => {
    const r = new Running(execa(bin(tool), args, { reject: false, stdin: 'ignore', buffer: false, env: { ...defaults, DMTCP_CHECKPOINT_DIR: job.dir, ...env } }));
    started.push(r);
    return r;
  };

  it('coordinator --daemon --port-file, launch -p, command -s/-bc/-k, --exit-on-last, restart D: output continues', async () => {
    const portFile = join(job.dir, '..', `${job.dir.split('/').pop()}.port`);
    const c = await run('dmtcp_coordinator', ['--daemon', '--exit-on-last', '-p', '0', '--port-file', portFile, '-i', '0']);
    assert.equal(c.exitCode, 0, c.stderr);
    const port = readFileSync(portFile, 'utf8').trim();
    rmSync(portFile);
    coordPid = readJson<{ pid: number; port: number }>(join(job.dir, 'coordinator.json'))!.pid;
    assert.equal(String(readJson<{ port: number }>(join(job.dir, 'coordinator.json'))!.port), port);

    // The job joins it by port, as DMTCP scripts export it.
    const p = start('dmtcp_launch', ['--no-gzip', counter], { DMTCP_COORD_PORT: port });
    await p.waitFor(/^count 5$/);
    const s = await run('dmtcp_command', ['-p', port, '-s']);
    assert.equal(s.exitCode, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^Coordinator:\\n  Host: 127\\.0\\.0\\.1\\n  Port: ${port}\\nStatus\\.\\.\\.\\n  NUM_PEERS=1\\n  RUNNING=yes\\n`));
    const before = numbers(p.lines, COUNT).at(-1)!;
    const ck = await run('dmtcp_command', ['-bc']);   // found through DMTCP_CHECKPOINT_DIR
    assert.equal(ck.exitCode, 0, ck.stderr);
    assert.match(ck.stdout, /^gen-000001 \d+ bytes/);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')));
    const atCheckpoint = numbers(p.lines, COUNT).at(-1)!;
    await p.waitFor(new RegExp(`^count ${atCheckpoint + 5}$`));

    // -k kills the job; --exit-on-last then stops the coordinator.
    const k = await run('dmtcp_command', ['--port', port, '--kill']);
    assert.equal(k.exitCode, 0, k.stderr);
    await p.waitExit();
    await waitUntil(() => !existsSync(join(job.dir, 'coordinator.json')), 'the --exit-on-last coordinator left');
    noBroken(p.lines);
    const lastBefore = numbers(p.lines, COUNT).at(-1)!;

    const r = start('dmtcp_restart', [job.dir]);
    while (numbers(r.lines, COUNT).length < 5) await r.waitFor(COUNT, 20000, r.lines.length);
    const after = numbers(r.lines, COUNT);
    assert.ok(after[0]! > before && after[0]! <= atCheckpoint + 1 && after[0]! <= lastBefore,
      `restart resumed at ${after[0]}, expected in (${before}, ${atCheckpoint + 1}]: ${r.tail()}`);
    for (let i = 1; i < after.length; i++) assert.equal(after[i], after[i - 1]! + 1, `output skipped: ${after.join(',')}`);
    noBroken(r.lines);
  });

  it('dmtcp_launch -i -p with its own coordinator at that port; -c, -l, -q, and restart -i through the directory', async () => {
    const port = await freePort();
    const p = start('dmtcp_launch', ['-i', '3600', '-p', String(port), '--ckptdir', job.dir, counter], { DMTCP_CHECKPOINT_DIR: '' });
    await p.waitFor(/^count 3$/);
    assert.equal(readJson<{ port: number }>(join(job.dir, 'coordinator.json'))!.port, port);
    assert.deepEqual(JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8')), { interval: 3600, keep: 0, compress: null });
    const ck = await run('dmtcp_command', ['-c']);
    assert.equal(ck.exitCode, 0, ck.stderr);
    assert.match(ck.stdout, /^gen-000001 /);
    const l = await run('dmtcp_command', ['--list']);
    assert.match(l.stdout, new RegExp(`^Client List:\\n.*\\n1, counter\\[\\d+:\\d+\\]@`));
    const q = await run('dmtcp_command', ['-q']);
    assert.equal(q.exitCode, 0, q.stderr);
    await p.waitExit();
    await waitUntil(() => !existsSync(join(job.dir, 'coordinator.json')), 'the coordinator left');
    const r = start('dmtcp_restart', ['-i', '0']);   // the directory from DMTCP_CHECKPOINT_DIR
    await r.waitFor(COUNT);
    assert.deepEqual(JSON.parse(readFileSync(join(job.dir, 'settings.json'), 'utf8')), { interval: 0, keep: 0, compress: null });
  });

  it('dmtcp_launch hands on inherited descriptors as stasis launch does (started through stasis-handover)', async () => {
    const fdHandover = join(programs, 'fd_handover');
    const lines = async (cmd: string[]) => {
      const r = await execa(fdHandover, ['open', job.dir, '--', ...cmd], { reject: false, stdin: 'ignore' });
      assert.equal(r.exitCode, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    const plain = await lines([fdHandover, 'list']);
    assert.ok(plain.some((l) => l.startsWith('fd 200 ')), 'fd 200 opened');
    assert.deepEqual(await lines([bin('dmtcp_launch'), '--ckptdir', job.dir, fdHandover, 'list']), plain);
  });

  it('a coordinator named by -p whose D is not seen live here (another node): joined with the token of D/token', async () => {
    const c = await run('dmtcp_coordinator', ['--daemon', '-p', '0', '--port-file', join(job.dir, 'port')]);
    assert.equal(c.exitCode, 0, c.stderr);
    coordPid = readJson<{ pid: number }>(join(job.dir, 'coordinator.json'))!.pid;
    const port = readFileSync(join(job.dir, 'port'), 'utf8').trim();
    // What a node sharing D sees when the coordinator's pid is not on it: the token, no live coordinator.json.
    const shared = join(job.dir, 'as-seen-elsewhere');
    mkdirSync(shared);
    copyFileSync(join(job.dir, 'token'), join(shared, 'token'));
    const p = start('dmtcp_launch', ['-h', 'localhost', '-p', port, counter], { DMTCP_CHECKPOINT_DIR: shared });
    await p.waitFor(/^count 3$/);
    const s = await run('dmtcp_command', ['-s']);
    assert.match(s.stdout, /NUM_PEERS=1\n/, s.stderr);
    assert.ok(!existsSync(join(shared, 'coordinator.json')), 'a private coordinator was started instead');
    const wrong = join(job.dir, 'wrong-token');
    mkdirSync(wrong);
    writeFileSync(join(wrong, 'token'), `${'0'.repeat(64)}\n`);
    const refused = await run('dmtcp_command', ['-p', port, '-bc'], { DMTCP_CHECKPOINT_DIR: wrong });
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /refused us: bad token/);
  });

  it('dmtcp_launch -j without a coordinator, a DMTCP image, an unknown flag: one line, exit 2, nothing run', async () => {
    for (const [tool, args, re] of [
      ['dmtcp_launch', ['-j', counter], /^dmtcp_launch: -j: no coordinator is running for /],
      ['dmtcp_launch', ['--frobnicate', counter], /^dmtcp_launch: unknown option --frobnicate \(see dmtcp_launch --help\)$/],
      ['dmtcp_restart', ['ckpt_counter_1234.dmtcp'], /^dmtcp_restart: ckpt_counter_1234\.dmtcp is a DMTCP checkpoint image; .* use stasis restart D \(or dmtcp_restart D\)$/],
      ['dmtcp_restart', ['./dmtcp_restart_script.sh'], /^dmtcp_restart: .*restart script.*use stasis restart D/],
      ['dmtcp_command', ['-bc'], /no coordinator is running for /],
      ['dmtcp_coordinator', ['--kill-after-ckpt'], /^dmtcp_coordinator: --kill-after-ckpt: not supported/],
    ] as Array<[string, string[], RegExp]>) {
      const r = await run(tool, args);
      assert.equal(r.exitCode, 2, `${tool} ${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), re);
      assert.equal(r.stdout, '');
    }
    assert.ok(!existsSync(join(job.dir, 'coordinator.json')));

    // A directory of DMTCP images only.
    writeFileSync(join(job.dir, 'ckpt_counter_66b5-40000-5d1e.dmtcp'), 'DMTCP');
    const d = await run('dmtcp_restart', [job.dir]);
    assert.equal(d.exitCode, 2);
    assert.match(d.stderr.trimEnd(), /^dmtcp_restart: .* holds DMTCP images \(ckpt_counter_66b5-40000-5d1e\.dmtcp\), no stasis checkpoint: stasis restarts only what stasis checkpointed$/);

    // A daemon that cannot listen: its own error, from its log, in one line.
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await run('dmtcp_coordinator', ['--daemon', '-p', String(port)]);
      assert.equal(r.exitCode, 2);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^dmtcp_coordinator: the coordinator did not start: stasis: cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is in use`));
    } finally { await new Promise((res) => busy.close(res)); }
  });
});
