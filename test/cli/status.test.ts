// `stasis status D`: the generations of a checkpoint directory, the restart
// count of `stasis run`, the newest restorable generation (every checksum
// verified: a corrupt newest one is named and skipped) and the coordinator.
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Job, programs, type Running } from '../helpers/stasis.js';
import type { StatusReport } from '../../src/cli/status.js';

const countTo = join(programs, 'count_to');
const env = { STASIS_RM: 'local' };

async function status(job: Job): Promise<StatusReport> {
  const r = await job.cli(['status', job.dir, '--json'], env);
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusReport;
}

async function stopAt(p: Running, at: number): Promise<void> {
  await p.waitFor(new RegExp(`^count ${at}$`));
  process.kill(p.pid, 'SIGTERM');
  assert.equal(await p.waitExit(30000), 143, p.tail());
}

describe('stasis status', function () {
  this.timeout(90000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-status-'); });
  afterEach(() => job.cleanup());

  it('shows the running coordinator, then generations, restarts and the newest restorable; a corrupt newest is skipped', async () => {
    const first = job.run([countTo, '400'], { env });
    await first.waitFor(/^count 5$/);
    const live = await status(job);
    assert.ok(live.coordinator && 'state' in live.coordinator, JSON.stringify(live.coordinator));
    assert.equal(live.coordinator.state, 'running');
    assert.equal(live.coordinator.processes, 1);
    assert.equal(live.run?.driver?.pid, first.pid);
    await stopAt(first, 10);
    await stopAt(job.run([countTo, '400'], { env }), 20);

    const s = await status(job);
    assert.equal(s.coordinator, null);
    assert.equal(s.run?.restarts, 1);
    assert.equal(s.run?.driver, null);
    assert.deepEqual(s.generations.map((g) => g.name), ['gen-000001', 'gen-000002']);
    for (const g of s.generations) {
      assert.deepEqual(g.hosts, [hostname()]);
      assert.equal(g.processes, 1);
      assert.ok(g.bytes! > 0 && !Number.isNaN(Date.parse(g.createdAt!)));
      assert.equal(g.problem, null);
    }
    assert.equal(s.newestRestorable, 2);

    // Damage the newest image in the middle: status names it and falls back.
    const gen2 = join(job.dir, 'gen-000002');
    const img = join(gen2, readdirSync(gen2).find((f) => f.endsWith('.img'))!);
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, Math.floor(statSync(img).size / 2));
    closeSync(fd);
    const bad = await status(job);
    assert.equal(bad.newestRestorable, 1);
    assert.ok(bad.generations[1]!.problem, 'the corrupt generation has no problem named');
    const text = await job.cli(['status', job.dir], env);
    assert.match(text.stdout, /^ {2}gen-000002 .* NOT RESTORABLE: /m);
    assert.match(text.stdout, /^restorable {3}gen-000001 /m);
    assert.match(text.stdout, /^run {10}stopped; restarts 1$/m);
  });

  it('a missing directory is one line, exit 2', async () => {
    const r = await job.cli(['status', join(job.dir, 'nope')], env);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /^stasis: .*nope: no such checkpoint directory$/);
  });
});
