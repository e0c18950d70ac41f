// Progress on a terminal (issue 12): `stasis command --checkpoint` shows the
// processes stopped, the bytes written of about the generation's size and
// the rate while it runs, and `stasis restart` the images verified and then
// the loader's bytes filled, each redrawn on one line and ending with one
// summary line; without a terminal only the summary lines, as before. The terminal is a pty (python3's pty module).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { Job, programs, stasisBin } from '../helpers/stasis.js';

const countTo = join(programs, 'count_to');

/** Runs `stasis args` with stdin, stdout and stderr on a pty; everything it wrote, as one string. */
async function onTerminal(args: string[]): Promise<string> {
  const r = await execa('/usr/bin/python3', ['-c', 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)', 'node', stasisBin, ...args],
    { reject: false, stdin: 'ignore', timeout: 60000 });
  assert.equal(r.exitCode, 0, `${r.stdout} ${r.stderr}`);
  return r.stdout;
}

/** What stays on the screen: each line after its last carriage return and erase-line. */
const screen = (out: string) => out.split(/\r?\n/).map((l) => l.split('\r').at(-1)!.replace(/\x1b\[K/g, '')).filter((l) => l);

describe('progress on a terminal', function () {
  this.timeout(90000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-progress-'); });
  afterEach(() => job.cleanup());

  it('command --checkpoint and restart draw progress on a terminal and end with one summary line; in scripts only the summary', async () => {
    // Generation 2 takes 2 s: its writer pauses halfway (test fault point).
    const p = job.launch([countTo, '120'], { env: { STASIS_FAULT: 'save-slow@2:2' } });
    await p.waitFor(/^count 3$/);
    const plain = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    assert.equal(plain.exitCode, 0, plain.stderr);
    assert.equal(plain.stderr, '');
    assert.match(plain.stdout, /^gen-000001 \d+ bytes [\d.]+ s$/);

    const out = await onTerminal(['command', '--ckpt-dir', job.dir, '--checkpoint']);
    const drawn = out.split(/[\r\n]+/).map((l) => l.replace(/\x1b\[K/g, '')).filter((l) => l);
    assert.ok(drawn.some((l) => /^stasis: gen-000002: 1 process\(es\) stopped, (\d+ B|[\d.]+ (KiB|MiB)) of ~[\d.]+ MiB written, (\d+ B\/s|[\d.]+ (KiB|MiB)\/s|-)$/.test(l)),
      `no progress drawn: ${JSON.stringify(out)}`);
    assert.deepEqual(screen(out), [screen(out).at(-1)]);
    assert.match(screen(out).at(-1)!, /^gen-000002 \d+ bytes [\d.]+ s$/, 'the summary line is not what stays');
    await job.killTree(p);

    const restored = await onTerminal(['restart', job.dir]);
    assert.match(restored, /\rstasis: verifying gen-000002: image 1 of 1, [\d.]+ (B|MiB) of [\d.]+ MiB/);
    // Then the loader, which stasis restart has become: the bytes it fills (decompresses), up to all of them.
    const loaded = [...restored.matchAll(/\rstasis: loading gen-000002: ([\d.]+ (?:B|KiB|MiB)) of ([\d.]+ (?:KiB|MiB))\x1b\[K/g)];
    assert.ok(loaded.length >= 2, `no loading progress drawn: ${JSON.stringify(restored.slice(0, 600))}`);
    assert.equal(loaded[0]![1], '0 B');
    assert.equal(loaded.at(-1)![1], loaded.at(-1)![2]);
    const lines = screen(restored);
    assert.match(lines[0]!, /^stasis: gen-000002 verified \(1 image\(s\), [\d.]+ MiB in [\d.]+ s, [\d.]+ (KiB|MiB|GiB)\/s\); restoring 1 process\(es\)$/);
    assert.match(lines[1]!, /^count \d+$/);
    assert.equal(lines.at(-1), 'done');

    // Without a terminal: nothing but the program's output.
    const quiet = job.restart(join(job.dir, 'gen-000002'));
    assert.equal(await quiet.waitExit(30000), 0, quiet.tail());
    assert.deepEqual(quiet.errLines.filter((l) => l), []);
  });
});
