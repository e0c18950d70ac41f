// A user-started `stasis coordinator` in the foreground, and programs that
// join it through the ckpt dir or --coord.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, programs, Running, stasisBin } from '../helpers/stasis.js';
import { freePort, killPid, pidAlive, readJson, startCoordinator, waitUntil } from './util.js';

const counter = join(programs, 'counter');

async function cli(args: string[], env: Record<string, string> = {}) {
  return execa('node', [stasisBin, ...args], { reject: false, stdin: 'ignore', env });
}

async function status(dir: string): Promise<{ processes: number; pid: number; state: string }> {
  const r = await cli(['command', '--ckpt-dir', dir, '--status', '--json']);
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('stasis coordinator (user-started, foreground)', function () {
  this.timeout(60000);
  let job: Job;
  let coord: Awaited<ReturnType<typeof startCoordinator>> | null;
  const extra: Running[] = [];
  const dirs: string[] = [];
  beforeEach(() => { job = new Job('stasis-ucoord-'); coord = null; });
  afterEach(async () => {
    for (const r of extra.splice(0)) await r.kill9().catch(() => undefined);
    if (coord) { killPid(coord.pid); await coord.run.waitExit().catch(() => undefined); }
    await job.cleanup();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('listens on --port, publishes itself, and stasis launch --ckpt-dir joins it', async () => {
    const port = await freePort();
    coord = await startCoordinator(job.dir, ['--port', String(port)]);
    assert.equal(coord.port, port);
    assert.deepEqual(readJson(join(job.dir, 'coordinator.json')), { host: '127.0.0.1', port, pid: coord.pid, private: false, node: hostname() });
    assert.equal(statSync(join(job.dir, 'token')).mode & 0o777, 0o600);
    assert.equal(coord.token.length, 64);

    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const s = await status(job.dir);
    assert.equal(s.processes, 1);
    assert.equal(s.pid, coord.pid, 'launch started its own coordinator instead of joining');
    assert.equal((readJson<{ pid: number }>(join(job.dir, 'coordinator.json')))!.pid, coord.pid);
    const g = await job.checkpoint();
    assert.equal(g.generation, 1);

    // The program going away does not stop a user-started coordinator.
    await p.kill9();
    await waitUntil(() => existsSync(join(job.dir, 'coordinator.json')), 'coordinator.json', 1000);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(pidAlive(coord.pid));
    assert.equal((await status(job.dir)).processes, 0);

    // Nor may stasis restart start a private one beside it.
    const r = await cli(['restart', job.dir]);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /^stasis: a coordinator already serves .*: stop it first \(stasis command --ckpt-dir .* --quit\)\n?$/);
  });

  it('stasis launch --coord H:P with STASIS_TOKEN joins it from another ckpt dir argument', async () => {
    coord = await startCoordinator(job.dir);
    const elsewhere = mkdtempSync(join(tmpdir(), 'stasis-elsewhere-'));
    dirs.push(elsewhere);
    const p = new Running(execa('node', [stasisBin, 'launch', '--coord', `127.0.0.1:${coord.port}`, '--ckpt-dir', elsewhere, '--', counter],
      { env: { STASIS_TOKEN: coord.token }, buffer: false, reject: false, stdin: 'ignore' }));
    extra.push(p);
    await p.waitFor(/^count 3$/);
    assert.equal((await status(job.dir)).processes, 1);
    assert.ok(!existsSync(join(elsewhere, 'coordinator.json')), 'a private coordinator was started');
  });

  it('a second stasis coordinator on the same dir is refused with one line', async () => {
    coord = await startCoordinator(job.dir);
    const t0 = Date.now();
    const r = await cli(['coordinator', '--ckpt-dir', job.dir]);
    assert.notEqual(r.exitCode, 0);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^stasis: a coordinator \\(pid ${coord.pid}\\) already serves ${job.dir} at 127\\.0\\.0\\.1:${coord.port}`));
    assert.ok(Date.now() - t0 < 20000);
    assert.ok(pidAlive(coord.pid));
    assert.equal((readJson<{ pid: number }>(join(job.dir, 'coordinator.json')))!.pid, coord.pid, 'the refused one overwrote coordinator.json');
  });

  it('a port in use is refused with one line', async () => {
    coord = await startCoordinator(job.dir);
    const other = mkdtempSync(join(tmpdir(), 'stasis-ucoord2-'));
    dirs.push(other);
    const r = await cli(['coordinator', '--ckpt-dir', other, '--port', String(coord.port)]);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, new RegExp(`^stasis: cannot listen on 127\\.0\\.0\\.1:${coord.port}: port ${coord.port} is in use \\(EADDRINUSE\\)\\n?$`));
    assert.ok(!existsSync(join(other, 'coordinator.json')));
  });

  it('stasis command --quit stops it: program killed, coordinator.json removed, exit 0', async () => {
    coord = await startCoordinator(job.dir);
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const q = await cli(['command', '--ckpt-dir', job.dir, '--quit']);
    assert.equal(q.exitCode, 0, q.stderr);
    assert.equal(q.stdout, 'killed every process; coordinator exits');
    assert.equal((await p.proc).signal, 'SIGKILL');
    assert.equal(await coord.run.waitExit(10000), 0);
    assert.ok(!existsSync(join(job.dir, 'coordinator.json')));
    assert.ok(!pidAlive(coord.pid));
  });

  it('SIGTERM stops it and removes coordinator.json', async () => {
    coord = await startCoordinator(job.dir);
    process.kill(coord.pid, 'SIGTERM');
    assert.equal(await coord.run.waitExit(10000), 0);
    assert.ok(!existsSync(join(job.dir, 'coordinator.json')));
  });
});
