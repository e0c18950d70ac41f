// `stasis command` against real coordinators and real programs.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, programs, stasisBin } from '../helpers/stasis.js';
import { pidAlive, readJson, sleep, waitUntil } from './util.js';

const counter = join(programs, 'counter');

async function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa('node', [stasisBin, ...args], { reject: false, stdin: 'ignore', cwd: opts.cwd, env: opts.env ?? {} });
}

/** An error is one line on stderr, `stasis: ...`, and a non-zero exit. */
function assertOneLineError(r: { exitCode?: number; stderr: string; stdout: string }, re: RegExp): void {
  assert.notEqual(r.exitCode, 0, `exit 0: ${r.stdout}`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `not one line: ${r.stderr}`);
  assert.match(r.stderr, /^stasis: /);
  assert.match(r.stderr, re);
}

function gens(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^gen-\d{6}$/.test(f)).sort();
}

function coordPid(dir: string): number | null {
  return readJson<{ pid: number }>(join(dir, 'coordinator.json'))?.pid ?? null;
}

describe('stasis command', function () {
  this.timeout(60000);
  let job: Job;
  let other = '';
  beforeEach(() => {
    job = new Job('stasis-cmd-');
    other = mkdtempSync(join(tmpdir(), 'stasis-elsewhere-'));
  });
  afterEach(async () => {
    await job.cleanup();
    rmSync(other, { recursive: true, force: true });
  });

  it('--status: one line of text, and --json in the shape of docs/protocol.md', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const j = await cli(['command', '--ckpt-dir', job.dir, '--status', '--json']);
    assert.equal(j.exitCode, 0, j.stderr);
    const s = JSON.parse(j.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(s).sort(), ['ckptDir', 'clients', 'generation', 'interval', 'keep', 'lastCheckpoint', 'localDir', 'pid', 'processes', 'save', 'state']);
    assert.equal(s.processes, 1);
    assert.equal(s.generation, 0);
    assert.equal(s.state, 'running');
    assert.equal(s.ckptDir, job.dir);
    assert.equal(s.localDir, null);
    assert.equal(s.interval, 0);
    assert.equal(s.pid, coordPid(job.dir));
    assert.deepEqual(s.clients, [{ pid: p.pid, host: hostname(), origin: hostname(), name: 'counter', restored: false, kernelPid: p.pid }]);

    await job.checkpoint();
    const t = await cli(['command', '--ckpt-dir', job.dir, '--status']);
    assert.equal(t.exitCode, 0, t.stderr);
    assert.equal(t.stdout, `running: 1 process(es), generation 1, interval 0 s, ${job.dir} — counter[${p.pid}]@${hostname()}; last checkpoint: gen-000001 committed`);
  });

  it('--checkpoint prints generation, bytes and seconds (and --json)', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const t = await cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.equal(t.exitCode, 0, t.stderr);
    assert.match(t.stdout, /^gen-000001 \d+ bytes \d+\.\d\d s$/);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')));
    const j = await job.checkpoint();
    assert.equal(j.generation, 2);
    assert.equal(j.dir, join(job.dir, 'gen-000002'));
    assert.ok(j.bytes > 0 && j.seconds >= 0);
  });

  it('--interval S makes checkpoints on their own; --interval 0 stops them', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const on = await cli(['command', '--ckpt-dir', job.dir, '--interval', '1']);
    assert.equal(on.exitCode, 0, on.stderr);
    assert.equal(on.stdout, 'interval set to 1 s');
    await waitUntil(() => existsSync(join(job.dir, 'gen-000002', 'manifest.json')), 'two interval checkpoints', 15000);
    const s = JSON.parse((await cli(['command', '--ckpt-dir', job.dir, '--status', '--json'])).stdout) as { interval: number };
    assert.equal(s.interval, 1);
    const off = await cli(['command', '--ckpt-dir', job.dir, '--interval', '0']);
    assert.equal(off.exitCode, 0, off.stderr);
    await sleep(1500);   // one already under way may still commit
    const n = gens(job.dir).length;
    await sleep(2500);
    assert.equal(gens(job.dir).length, n, 'checkpoints went on after --interval 0');
    assert.ok(!p.exited);
  });

  it('launch --interval 1 --keep 2 prunes to 2 generations and keeps latest', async () => {
    const p = job.launch([counter], { flags: ['--interval', '1', '--keep', '2'] });
    await waitUntil(() => {
      try { return Number(readlinkSync(join(job.dir, 'latest')).slice(4)) >= 4; } catch { return false; }
    }, 'generation 4', 20000);
    assert.equal((await cli(['command', '--ckpt-dir', job.dir, '--interval', '0'])).exitCode, 0);
    await sleep(1500);
    const latest = readlinkSync(join(job.dir, 'latest'));
    const left = gens(job.dir);
    assert.equal(left.length, 2, `generations left: ${left.join(' ')}`);
    assert.equal(left.at(-1), latest, 'latest is not the newest generation left');
    assert.ok(existsSync(join(job.dir, latest, 'manifest.json')));
    assert.ok(!p.exited);
  });

  it('--kill ends the program by SIGKILL; its private coordinator then exits', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const cpid = coordPid(job.dir)!;
    const k = await cli(['command', '--ckpt-dir', job.dir, '--kill']);
    assert.equal(k.exitCode, 0, k.stderr);
    assert.equal(k.stdout, 'killed every process');
    const res = await p.proc;
    assert.equal(res.signal, 'SIGKILL');
    await waitUntil(() => !existsSync(join(job.dir, 'coordinator.json')) && !pidAlive(cpid), 'the coordinator exited', 10000);
  });

  it('--quit kills the program and stops the coordinator (coordinator.json removed, pid gone)', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const cpid = coordPid(job.dir)!;
    assert.ok(pidAlive(cpid));
    const q = await cli(['command', '--ckpt-dir', job.dir, '--quit', '--json']);
    assert.equal(q.exitCode, 0, q.stderr);
    assert.deepEqual(JSON.parse(q.stdout), { ok: true });
    assert.equal((await p.proc).signal, 'SIGKILL');
    await waitUntil(() => !existsSync(join(job.dir, 'coordinator.json')) && !pidAlive(cpid), 'the coordinator exited', 10000);
  });

  it('--coord H:P with STASIS_TOKEN works from another directory; a wrong token fails with one line', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count 3$/);
    const { host, port } = readJson<{ host: string; port: number }>(join(job.dir, 'coordinator.json'))!;
    const token = readFileSync(join(job.dir, 'token'), 'utf8').trim();
    const ok = await cli(['command', '--coord', `${host}:${port}`, '--status', '--json'], { cwd: other, env: { STASIS_TOKEN: token } });
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { processes: number }).processes, 1);
    const ck = await cli(['command', '--coord', `${host}:${port}`, '--checkpoint'], { cwd: other, env: { STASIS_TOKEN: token } });
    assert.equal(ck.exitCode, 0, ck.stderr);
    assert.ok(existsSync(join(job.dir, 'gen-000001', 'manifest.json')));
    writeFileSync(join(other, 'tok'), `${token}\n`);
    const viaFile = await cli(['command', '--coord', `${host}:${port}`, '--token-file', 'tok', '--status'], { cwd: other });
    assert.equal(viaFile.exitCode, 0, viaFile.stderr);
    const viaEnv = await cli(['command', '--status'], { cwd: other, env: { STASIS_COORD: `${host}:${port}`, STASIS_TOKEN: token } });
    assert.equal(viaEnv.exitCode, 0, viaEnv.stderr);

    const bad = await cli(['command', '--coord', `${host}:${port}`, '--status'], { cwd: other, env: { STASIS_TOKEN: 'f'.repeat(64) } });
    assertOneLineError(bad, /refused us: bad token/);
    const none = await cli(['command', '--coord', `${host}:${port}`, '--status'], { cwd: other });
    assertOneLineError(none, /needs the job token/);
    const badAddr = await cli(['command', '--coord', 'nowhere', '--status'], { cwd: other, env: { STASIS_TOKEN: token } });
    assertOneLineError(badAddr, /bad coordinator address 'nowhere'/);
    assert.ok(!p.exited, 'the program was disturbed');
  });

  it('for a directory with no coordinator: one clear line, non-zero', async () => {
    const r = await cli(['command', '--ckpt-dir', other, '--status']);
    assertOneLineError(r, new RegExp(`no coordinator is running for ${other} \\(no coordinator.json there\\)`));
    writeFileSync(join(other, 'coordinator.json'), JSON.stringify({ host: '127.0.0.1', port: 1, pid: 2 ** 22 + 1 }));
    const stale = await cli(['command', '--ckpt-dir', other, '--checkpoint']);
    assertOneLineError(stale, /no coordinator is running for .* \(pid \d+ in coordinator.json is gone\)/);
  });

  it('needs exactly one of --checkpoint, --status, --interval, --kill, --quit', async () => {
    const two = await cli(['command', '--ckpt-dir', other, '--checkpoint', '--status']);
    assertOneLineError(two, /give exactly one of --checkpoint, --status/);
    const zero = await cli(['command', '--ckpt-dir', other]);
    assertOneLineError(zero, /give exactly one of/);
    const unknown = await cli(['command', '--ckpt-dir', other, '--frobnicate']);
    assertOneLineError(unknown, /Unknown argument/i);
  });
});
