// `stasis restart` without Node (native/launch/front_restart.c): one process
// of this host, restarted outside an allocation. Runs marked FAST have
// STASIS_FRONT=require (exit 99 if the fast path left it to Node); the Node
// path is `node bin/stasis.js`. Both must restore alike, start the same
// coordinator, and say the same errors; whatever the fast path is not sure
// of goes to Node before anything is started.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, openSync, writeSync, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FAST, fast, viaNode, type Result } from '../helpers/front.js';
import { Job, programs, stasisBin, type Running } from '../helpers/stasis.js';
import { waitUntil } from '../coordinator/util.js';

const counter = join(programs, 'counter');


/** The options the running private coordinator was started with (its last argument), without the owner's pid. */
function coordinatorOptions(job: Job): Record<string, unknown> {
  const pid = job.coordinatorPid()!;
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const o = JSON.parse(argv.at(-1)!) as Record<string, unknown>;
  assert.ok(typeof o.ownerPid === 'number' && o.ownerPid > 0);
  delete o.ownerPid;
  return o;
}

/** The state letter /proc gives `pid`, null once it is reaped. */
function procState(pid: number): string | null {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)![0]!; } catch { return null; }
}

/** Checkpointed (generation `gen`) and killed with its coordinator: the counts it had reached when the
 * checkpoint was asked for and when it was done (a restart resumes between them). */
async function checkpointAndKill(job: Job, p: Running, gen: number): Promise<{ asked: number; at: number }> {
  const before = p.lines.length;
  await p.waitFor(/^count \d+$/, 20000, before);
  const asked = Number(p.lines.at(-1)!.split(' ')[1]);
  const ck = await job.checkpoint();
  assert.equal(ck.generation, gen);
  const at = Number(p.lines.at(-1)!.split(' ')[1]);
  await killWithCoordinator(job, p);
  return { asked, at };
}

/** The job's processes and its coordinator killed; the coordinator has died (it may not be reaped yet). */
async function killWithCoordinator(job: Job, p: Running): Promise<void> {
  await job.killTree(p);
  const c = job.coordinatorPid();
  if (c) { try { process.kill(c, 'SIGKILL'); } catch { /* gone */ } }
  if (c) await waitUntil(() => [null, 'Z'].includes(procState(c)), 'the coordinator died');
}

/** Processes of the fast path (stasis-front) writing to the store's coordinator.log: a coordinator forked but never Node. */
function coordinatorForks(dir: string): number[] {
  const log = join(dir, 'coordinator.log');
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'stasis-front' && readlinkSync(`/proc/${pid}/fd/2`) === log; } catch { return false; }
  });
}

/** A restart resumed where the checkpoint was taken. */
function resumedWithin(first: string, k: { asked: number; at: number }): void {
  const n = Number(first);
  assert.ok(n >= k.asked && n <= k.at + 1, `resumed at ${n}, checkpoint taken between ${k.asked} and ${k.at}`);
}

describe('stasis restart without Node (bin/stasis fast path)', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-fast-restart-'); });
  afterEach(async () => { await job.cleanup(); });

  it('restores one process as the Node path does: the same coordinator, checkpoints and restarts after it', async () => {
    const p = job.launch([counter], { env: { STASIS_COMPRESS: 'none' } });
    let k = await checkpointAndKill(job, p, 1);
    // Node first: what the fast path must do alike.
    const viaNodeRun = job.restart(undefined, { env: { STASIS_FRONT: '0' } });
    let m = await viaNodeRun.waitFor(/^count (\d+)$/);
    resumedWithin(m[1]!, k);
    await waitUntil(() => job.coordinatorPid() !== null, 'the Node path published its coordinator');
    const published = Object.keys(JSON.parse(readFileSync(join(job.dir, 'coordinator.json'), 'utf8'))).sort();
    const nodeOptions = coordinatorOptions(job);
    k = await checkpointAndKill(job, viaNodeRun, 2);

    const fastRun = job.restart(undefined, { env: { ...FAST, STASIS_DEBUG: '1' } });
    m = await fastRun.waitFor(/^count (\d+)$/);
    resumedWithin(m[1]!, k);
    const err = fastRun.errLines.join('\n');
    assert.match(err, /stasis restart: verified at \d+ ms \(fast path\)/);
    // STASIS_VERIFIED named the image as the loader identifies it: what is mapped is not read twice.
    assert.match(err, /MiB mapped from files stasis restart verified: not read again/);
    await waitUntil(() => job.coordinatorPid() !== null, 'the fast path published its coordinator');
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(job.dir, 'coordinator.json'), 'utf8'))).sort(), published);
    assert.deepEqual(coordinatorOptions(job), { ...nodeOptions, restoreFrom: join(job.dir, 'gen-000002') });
    assert.equal(readFileSync(join(job.dir, 'token'), 'utf8').trim().length, 64);
    const st = await viaNode(['command', '--ckpt-dir', job.dir, '--status', '--json']);
    assert.equal(st.exitCode, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).clients.length, 1);
    k = await checkpointAndKill(job, fastRun, 3);
    const again = job.restart(undefined, { env: FAST });
    m = await again.waitFor(/^count (\d+)$/);
    resumedWithin(m[1]!, k);
    const q = await viaNode(['command', '--ckpt-dir', job.dir, '--quit']);
    assert.equal(q.exitCode, 0, q.stderr);
  });

  it('a coordinator that ended but is not reaped yet (a zombie) serves nothing: both paths restart', async () => {
    const p = job.launch([counter]);
    await p.waitFor(/^count \d+$/);
    const published = JSON.parse(readFileSync(join(job.dir, 'coordinator.json'), 'utf8')) as Record<string, unknown>;
    await checkpointAndKill(job, p, 1);
    // `sleep 60` never reaps the child its shell left: a zombie until the sleep ends (as a coordinator
    // adopted by a subreaper that is slow to reap).
    const parent = execa('sh', ['-c', 'sleep 0 & echo $!; exec sleep 60'], { reject: false });
    try {
      const zombie = await new Promise<number>((resolve) => parent.stdout!.once('data', (b: Buffer) => resolve(Number(String(b).trim()))));
      await waitUntil(() => procState(zombie) === 'Z', 'the zombie');
      const left = () => writeFileSync(join(job.dir, 'coordinator.json'), `${JSON.stringify({ ...published, pid: zombie })}\n`);
      for (const env of [FAST, { STASIS_FRONT: '0' }]) {
        left();
        // Were the zombie taken for a coordinator, the fast path would leave it to Node (exit 99) and Node
        // would wait 5 s, then refuse: the zombie lasts a minute.
        const r = job.restart(undefined, { env });
        await r.waitFor(/^count \d+$/);
        await waitUntil(() => job.coordinatorPid() !== null && job.coordinatorPid() !== zombie, 'the new coordinator published');
        await killWithCoordinator(job, r);
      }
    } finally { parent.kill('SIGKILL'); }
  });

  it('errors it says itself are Node\'s words and exit status: a missing directory, a file', async () => {
    const file = join(job.dir, 'a-file');
    writeFileSync(file, '');
    for (const target of [join(job.dir, 'none'), file]) {
      const a = await fast(['restart', target]), b = await viaNode(['restart', target]);
      assert.deepEqual({ exitCode: a.exitCode, stderr: a.stderr, stdout: a.stdout }, { exitCode: b.exitCode, stderr: b.stderr, stdout: b.stdout }, target);
      assert.equal(a.exitCode, 2);
    }
  });

  it('leaves to Node, before starting anything, what it does not do itself', async () => {
    const p = job.launch([counter]);
    await checkpointAndKill(job, p, 1);
    const left = async (args: string[], env: Record<string, string> = {}) => {
      const r = await fast(['restart', ...args], env);
      assert.equal(r.exitCode, 99, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr, /^stasis: left to Node: /);
      assert.equal(job.coordinatorPid(), null, 'nothing started');
      // The coordinator it forks beside the verification ends when the restart goes to Node.
      await waitUntil(() => coordinatorForks(job.dir).length === 0, `the fast path's coordinator fork ended (${coordinatorForks(job.dir)})`);
    };
    const empty = join(job.dir, 'empty');
    mkdirSync(empty);
    await left([empty]);                                   // no generation: Node's error
    await left([join(job.dir, 'gen-000001')]);             // a generation named
    await left(['--interval', '5', job.dir]);              // an option
    await left([job.dir], { STASIS_ROOT: '/' });
    await left([job.dir], { SLURM_JOB_ID: '1' });
    await left([job.dir], { STASIS_SAVE: 'forked' });
    // latest not naming the newest generation: Node gives the notice.
    const latest = join(job.dir, 'latest');
    const target = readlinkSync(latest);
    rmSync(latest);
    await left([job.dir]);
    symlinkSync(target, latest);
    // No settings.json: Node writes it.
    renameSync(join(job.dir, 'settings.json'), join(job.dir, 'settings.saved'));
    await left([job.dir]);
    renameSync(join(job.dir, 'settings.saved'), join(job.dir, 'settings.json'));
    // A damaged image: Node says so (and would try an older generation).
    const manifest = JSON.parse(readFileSync(join(job.dir, 'gen-000001', 'manifest.json'), 'utf8'));
    const image = join(job.dir, 'gen-000001', manifest.processes[0].image);
    const fd = openSync(image, 'r+');
    writeSync(fd, Buffer.from('x'), 0, 1, manifest.processes[0].bytes - 30);
    closeSync(fd);
    await left([job.dir]);
    const n = await viaNode(['restart', job.dir]);
    assert.notEqual(n.exitCode, 0);
    assert.match(n.stderr, /no restorable generation/);
  });

  it('restores a tree of processes as one loader does; leaves several trees (a daemon) to Node', async () => {
    const p = job.launch(['sh', '-c', `${counter} & exec ${counter}`]);
    await p.waitFor(/^count 2$/);
    const joined = async (n: number) => {
      for (let i = 0; (await job.kernelPids()).length < n; i++) {
        if (i > 200) throw new Error(`fewer than ${n} processes joined`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await joined(2);
    await checkpointAndKill(job, p, 1);
    const back = job.restart(undefined, { env: FAST });
    await back.waitFor(/^count \d+$/);
    await joined(2);
    const st = JSON.parse((await viaNode(['command', '--ckpt-dir', job.dir, '--status', '--json'])).stdout);
    assert.equal(st.clients.length, 2);
    assert.equal(coordinatorOptions(job).expect, 2);
    const before = back.lines.length;
    await back.waitFor(/^count \d+$/, 20000, before + 4);   // both still count
    await checkpointAndKill(job, back, 2);

    // A child whose parent is gone (ppid outside the job): a second root, restored by its own loader (Node).
    const daemon = new Job('stasis-fast-restart-');
    try {
      const d = daemon.launch(['sh', '-c', `(${counter} > /dev/null &); exec ${counter}`]);
      await d.waitFor(/^count 2$/);
      for (let i = 0; (await daemon.kernelPids()).length < 2; i++) {
        if (i > 200) throw new Error('the daemon never joined');
        await new Promise((r) => setTimeout(r, 50));
      }
      await checkpointAndKill(daemon, d, 1);
      const r = await fast(['restart', daemon.dir]);
      assert.equal(r.exitCode, 99, r.stderr);
      assert.match(r.stderr, /several process trees/);
    } finally { await daemon.cleanup(); }
  });
});
