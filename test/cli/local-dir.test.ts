// --local-dir (issue 15, multi-level storage): a generation commits in a
// node-local store first, the coordinator flushes it to the shared store D in
// the background, and restart takes the newest generation at either level.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, numbers, programs } from '../helpers/stasis.js';
import { waitUntil, pidAlive } from '../coordinator/util.js';
import { localStoreOf } from '../../src/images/levels.js';

const counter = join(programs, 'counter');
const count = /^count (\d+)$/;

describe('--local-dir: commit locally, flush to the checkpoint directory', function () {
  this.timeout(120000);
  let job: Job;
  let localDir: string;
  let local: string;   // L/<job key>: the local level of this job
  beforeEach(() => {
    job = new Job('stasis-local-');
    // /dev/shm as on a compute node; a temporary directory where there is none.
    localDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'stasis-local-L-'));
    local = localStoreOf(localDir, job.dir).dir;
  });
  afterEach(async () => {
    await job.cleanup();
    rmSync(localDir, { recursive: true, force: true });
  });

  const gens = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => /^gen-\d{6}$/.test(n)).sort() : []);
  const committed = (dir: string, g: string) => existsSync(join(dir, g, 'manifest.json'));
  const log = () => readFileSync(join(job.dir, 'coordinator.log'), 'utf8');
  const launch = (flags: string[] = [], env: Record<string, string> = {}) =>
    job.launch([counter], { flags: ['--local-dir', localDir, ...flags], env });

  it('checkpoint returns once the local generation committed; D receives the same generation after, and it verifies', async () => {
    // The flush of generation 1 is held before its commit in D.
    const p = launch([], { STASIS_TEST_PAUSE: 'flush@1' });
    await p.waitFor(/^count 2$/);
    const ck = await job.checkpoint();
    assert.equal(ck.generation, 1);
    assert.ok(committed(local, 'gen-000001'), `no gen-000001 in ${local}`);
    assert.equal(readlinkSync(join(local, 'latest')), 'gen-000001');
    const st = await job.cli(['command', '--ckpt-dir', job.dir, '--status', '--json']);
    assert.equal(JSON.parse(st.stdout).localDir, local);
    await waitUntil(() => log().includes('test pause at flush of generation 1'), 'the flush is held');
    assert.deepEqual(gens(job.dir), [], 'D got a generation before its flush committed');
    // The job ran on while the flush waited.
    const at = numbers(p.lines, count).at(-1)!;
    await p.waitFor(new RegExp(`^count ${at + 3}$`));
    writeFileSync(join(job.dir, 'test-release'), '');
    await waitUntil(() => committed(job.dir, 'gen-000001'), 'D has gen-000001');
    assert.equal(readlinkSync(join(job.dir, 'latest')), 'gen-000001');
    assert.equal(readFileSync(join(job.dir, 'gen-000001', 'manifest.json'), 'utf8'), readFileSync(join(local, 'gen-000001', 'manifest.json'), 'utf8'));
    const i = await job.cli(['inspect', job.dir]);
    assert.equal(i.exitCode, 0, i.stderr + i.stdout);
    assert.match(log(), /generation 1 flushed to /);
  });

  it('killed before the flush finished: restart uses the local generation, and its coordinator flushes it to D', async () => {
    const p = launch([], { STASIS_TEST_PAUSE: 'flush@2' });
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    await waitUntil(() => committed(job.dir, 'gen-000001'), 'D has gen-000001');
    const afterFirst = numbers(p.lines, count).at(-1)!;
    await p.waitFor(new RegExp(`^count ${afterFirst + 20}$`));
    await job.checkpoint();
    await waitUntil(() => log().includes('test pause at flush of generation 2'), 'the flush of generation 2 is held');
    const coordinator = job.coordinatorPid()!;
    await job.killTree(p);
    process.kill(coordinator, 'SIGKILL');
    await waitUntil(() => !pidAlive(coordinator), 'the coordinator is gone');
    assert.deepEqual(gens(job.dir), ['gen-000001']);
    const r = job.restart();
    const m = await r.waitFor(count);
    assert.ok(Number(m[1]) >= afterFirst + 20, `restart did not restore generation 2 (count ${m[1]}): ${r.tail()}`);
    assert.match(r.errLines.join('\n'), /using gen-000002 of .*\(the local level\).*has up to gen-000001 \(not flushed yet\)/);
    await waitUntil(() => committed(job.dir, 'gen-000002'), 'the restarted job\'s coordinator flushed gen-000002 to D');
    await job.killTree(r);
  });

  it('the local dir wiped: restart uses D\'s generation', async () => {
    const p = launch();
    await p.waitFor(/^count 2$/);
    await job.checkpoint();
    await waitUntil(() => committed(job.dir, 'gen-000001'), 'D has gen-000001');
    const afterFirst = numbers(p.lines, count).at(-1)!;
    await job.killTree(p);
    rmSync(localDir, { recursive: true, force: true });   // a node's /dev/shm after a reboot, or another node
    const r = job.restart();
    const m = await r.waitFor(count);
    assert.ok(Number(m[1]) <= afterFirst + 1, `restart did not restore generation 1 (count ${m[1]})`);
    // The restarted job commits at the local level again, made anew.
    const ck = await job.checkpoint();
    assert.equal(ck.generation, 2);
    assert.ok(committed(local, 'gen-000002'));
    await job.killTree(r);
  });

  it('--keep 1 prunes both levels', async () => {
    const p = launch(['--keep', '1']);
    for (const g of [1, 2, 3]) {
      await p.waitFor(new RegExp(`^count ${g * 3}$`));
      await job.checkpoint();
      await waitUntil(() => committed(job.dir, `gen-00000${g}`), `D has gen-00000${g}`);
    }
    await waitUntil(() => gens(job.dir).length === 1, `D pruned to one generation (has ${gens(job.dir).join(', ')})`);
    assert.deepEqual(gens(job.dir), ['gen-000003']);
    assert.deepEqual(gens(local), ['gen-000003']);
    await job.killTree(p);
  });

  it('without --keep D keeps every generation, the local level only its newest', async () => {
    const p = launch();
    for (const g of [1, 2, 3]) {
      await p.waitFor(new RegExp(`^count ${g * 3}$`));
      await job.checkpoint();
      await waitUntil(() => committed(job.dir, `gen-00000${g}`), `D has gen-00000${g}`);
    }
    await waitUntil(() => gens(local).length === 1, `the local level pruned to one generation (has ${gens(local).join(', ')})`);
    assert.deepEqual(gens(local), ['gen-000003']);
    assert.deepEqual(gens(job.dir), ['gen-000001', 'gen-000002', 'gen-000003']);
    await job.killTree(p);
  });

  it('stasis run: SIGTERM returns once the stop checkpoint is in D too; the local dir wiped, run again resumes from D', async () => {
    const countTo = join(programs, 'count_to');
    const env = { STASIS_RM: 'local', STASIS_TEST_PAUSE: 'flush@1' };
    const p = job.run([countTo, '60'], { env, flags: ['--local-dir', localDir] });
    await p.waitFor(/^count 10$/);
    process.kill(p.pid, 'SIGTERM');
    await waitUntil(() => existsSync(join(job.dir, 'coordinator.log')) && log().includes('test pause at flush of generation 1'), 'the flush is held');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.exited, false, 'stasis run exited before the generation reached D');
    assert.ok(committed(local, 'gen-000001'));
    writeFileSync(join(job.dir, 'test-release'), '');
    assert.equal(await p.waitExit(30000), 143, p.tail());
    assert.ok(committed(job.dir, 'gen-000001'), 'D has no gen-000001 once stasis run returned');
    const before = [...p.lines];
    rmSync(localDir, { recursive: true, force: true });   // requeued onto another node
    const again = job.run([countTo, '60'], { env: { STASIS_RM: 'local' } });
    assert.equal(await again.waitExit(60000), 0, again.tail());
    assert.deepEqual([...before, ...again.lines], [...Array.from({ length: 60 }, (_, i) => `count ${i}`), 'done']);
  });

  it('the local dir unusable (a file in the way): one line in the log, the generation is written straight to D', async () => {
    rmSync(localDir, { recursive: true });
    writeFileSync(localDir, 'not a directory');
    const p = launch();
    await p.waitFor(/^count 2$/);
    const ck = await job.checkpoint();
    assert.equal(ck.generation, 1);
    assert.ok(committed(job.dir, 'gen-000001'));
    assert.match(log(), /local level .* not used: .*a file is in the way.*; writing straight to /);
    await job.killTree(p);
  });

  it('the local generation\'s directory gone while processes save: the checkpoint is written straight to D instead', async () => {
    const p = launch([], { STASIS_TEST_PAUSE: 'suspend@1' });
    await p.waitFor(/^count 2$/);
    const ck = job.checkpoint();
    await waitUntil(() => log().includes('test pause at suspend of generation 1'), 'generation 1 held with every process stopped');
    rmSync(join(local, '.gen-000001.tmp'), { recursive: true });
    writeFileSync(join(local, 'test-release'), '');
    const done = await ck;
    assert.equal(done.generation, 2);   // an aborted number is never used again
    assert.ok(committed(job.dir, 'gen-000002'));
    assert.deepEqual(gens(local), []);
    assert.match(log(), /local level .*: checkpoint aborted, generation 1 not committed: .*; writing straight to /);
    const at = numbers(p.lines, count).at(-1)!;
    await p.waitFor(new RegExp(`^count ${at + 2}$`));   // the job runs on
    await job.killTree(p);
  });
});
