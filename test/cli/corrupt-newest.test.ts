// A damaged newest generation (a flipped byte in an image, an image cut
// short, its manifest removed or garbled): `stasis restart D` and `stasis
// run` restore the generation before it, saying in one line what they
// skipped and why; with none restorable they refuse in one line.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, noBroken, numbers, programs, type Running } from '../helpers/stasis.js';

const countTo = join(programs, 'count_to');
const N = 100;
const env = { STASIS_RM: 'local' };
const count = /^count (\d+)$/;

type Damage = 'bit-flipped image' | 'truncated image' | 'removed manifest' | 'garbled manifest';

function damage(genDir: string, how: Damage): void {
  const img = join(genDir, readdirSync(genDir).find((f) => f.endsWith('.img'))!);
  const size = statSync(img).size;
  if (how === 'bit-flipped image') {
    const buf = readFileSync(img);
    buf[Math.floor(size * 0.6)]! ^= 0x10;
    writeFileSync(img, buf);
  } else if (how === 'truncated image') truncateSync(img, Math.floor(size / 2));
  else if (how === 'removed manifest') rmSync(join(genDir, 'manifest.json'));
  else writeFileSync(join(genDir, 'manifest.json'), '{"format":');
}

/** Pids of private coordinators started to restore generation `dir`. */
function coordinatorsRestoring(dir: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`"restoreFrom":${JSON.stringify(dir)}`); } catch { return false; }
  }).map(Number);
}

/** Sends SIGTERM once `count AT` is printed: checkpointed and stopped. */
async function stopAt(p: Running, at: number): Promise<void> {
  await p.waitFor(new RegExp(`^count ${at}$`));
  process.kill(p.pid, 'SIGTERM');
  assert.equal(await p.waitExit(30000), 143, p.tail());
}

describe('a damaged newest generation', function () {
  this.timeout(120000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-corrupt-'); });
  afterEach(() => job.cleanup());

  for (const how of ['bit-flipped image', 'truncated image', 'removed manifest', 'garbled manifest'] as Damage[]) {
    it(`a ${how}: stasis run and stasis restart resume from the generation before, in one line`, async () => {
      const first = job.run([countTo, String(N)], { env });
      await stopAt(first, 10);
      const second = job.run([countTo, String(N)], { env });
      await stopAt(second, 30);
      damage(join(job.dir, 'gen-000002'), how);

      const r = job.restart();
      const at = Number((await r.waitFor(count))[1]);
      // The coordinator restart started for gen-000002 while verifying it is gone.
      assert.deepEqual(coordinatorsRestoring(join(job.dir, 'gen-000002')), []);
      assert.equal(coordinatorsRestoring(join(job.dir, 'gen-000001')).length, 1);
      await job.killTree(r);
      assert.ok(at > 10 && at <= 12, `restart resumed at ${at}, not from generation 1`);
      const notice = r.errLines.filter((l) => l.startsWith('stasis: '));
      assert.equal(notice.length, 1, notice.join(' | '));
      const why = how === 'removed manifest' ? /latest points at gen-000002, which has no manifest\.json/
        : how === 'garbled manifest' ? /gen-000002 is not restorable \(.*manifest\.json.*\)/
          : /gen-000002 is not restorable \(.*\.img: (corrupt|truncated).*\)/;
      assert.match(notice[0]!, new RegExp(`^stasis: using gen-000001 of ${job.dir}: ${why.source}$`));

      const last = job.run([countTo, String(N)], { env });
      assert.equal(await last.waitExit(60000), 0, last.tail());
      noBroken(last.lines);
      const resumed = numbers(last.lines, count);
      assert.ok(resumed[0]! > 10 && resumed[0]! <= 12, `stasis run resumed at ${resumed[0]}`);
      assert.deepEqual(last.lines, [...Array.from({ length: N - resumed[0]! }, (_, i) => `count ${resumed[0]! + i}`), 'done']);
      assert.equal(last.errLines.filter((l) => l.startsWith('stasis: ')).length, 1, last.errLines.join(' | '));
    });
  }

  it('none restorable: restart refuses in one line naming each', async () => {
    const p = job.run([countTo, String(N)], { env });
    await stopAt(p, 5);
    damage(join(job.dir, 'gen-000001'), 'bit-flipped image');
    const r = await job.cli(['restart', job.dir]);
    assert.notEqual(r.exitCode, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /no restorable generation: gen-000001 is not restorable \(.*corrupt/);
  });
});
