// Numeric and path options are checked strictly (issue 9, item 8), and a
// long --interval waits that long instead of overflowing Node's timers.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Job, programs } from '../helpers/stasis.js';
import { sleep } from '../coordinator/util.js';

const counter = join(programs, 'counter');
const THIRTY_DAYS = 30 * 24 * 3600;

function assertOneLineError(r: { exitCode?: number; stderr: string; stdout: string }, re: RegExp): void {
  assert.notEqual(r.exitCode, 0, `exit 0: ${r.stdout}`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `not one line: ${r.stderr}`);
  assert.match(r.stderr, /^stasis: /);
  assert.match(r.stderr, re);
}

const BAD_INTEGERS = ['abc', '-3', '1.5', 'Infinity', '0x10', '', '1e3', ' 3'];

describe('strict options', function () {
  this.timeout(60000);
  let job: Job;
  beforeEach(() => { job = new Job('stasis-opts-'); });
  afterEach(() => job.cleanup());

  for (const [cmd, opt] of [['launch', 'interval'], ['launch', 'keep'], ['launch', 'port'], ['restart', 'interval'], ['restart', 'keep'],
    ['command', 'interval'], ['coordinator', 'interval'], ['coordinator', 'keep'], ['coordinator', 'expect'],
    ['coordinator', 'timeout'], ['coordinator', 'port'], ['job', 'signal-before']] as const) {
    it(`${cmd} --${opt} refuses anything but a whole number, and a missing value`, async () => {
      const tail = cmd === 'launch' ? ['--', counter] : [];
      for (const bad of BAD_INTEGERS) {
        const r = await job.cli([cmd, '--ckpt-dir', job.dir, `--${opt}=${bad}`, ...tail]);
        assertOneLineError(r, new RegExp(`--${opt} '${bad}': want an integer`));
      }
      const missing = await job.cli([cmd, '--ckpt-dir', job.dir, `--${opt}`, ...tail]);
      assertOneLineError(missing, new RegExp(`Not enough arguments following: ${opt}`));
      assert.deepEqual(readdirSync(job.dir), [], 'something ran despite the bad option');
    });
  }

  it('ranges: --port above 65535 and --timeout 0 are refused', async () => {
    assertOneLineError(await job.cli(['coordinator', '--ckpt-dir', job.dir, '--port', '70000']), /--port 70000: want an integer from 0 to 65535/);
    assertOneLineError(await job.cli(['coordinator', '--ckpt-dir', job.dir, '--timeout', '0']), /--timeout 0: want an integer >= 1/);
    assertOneLineError(await job.cli(['launch', '--ckpt-dir', job.dir, '--port', '65536', '--', counter]), /--port 65536: want an integer from 0 to 65535/);
  });

  it('launch --port P: its private coordinator listens there; a port in use is one line', async () => {
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
    const port = (busy.address() as { port: number }).port;
    try {
      assertOneLineError(await job.cli(['launch', '--ckpt-dir', job.dir, '--port', String(port), '--', counter]),
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: port ${port} is in use \\(EADDRINUSE\\)`));
    } finally { await new Promise((res) => busy.close(res)); }
    const p = job.launch([counter], { flags: ['--port', String(port)] });
    await p.waitFor(/^count 2$/);
    assert.equal(JSON.parse(readFileSync(join(job.dir, 'coordinator.json'), 'utf8')).port, port);
    await job.killTree(p);
  });

  it('--ckpt-dir "", restart "" and inspect "" are errors, not the current directory', async () => {
    for (const cmd of ['launch', 'coordinator', 'command']) {
      const r = await job.cli([cmd, '--ckpt-dir', '', ...(cmd === 'launch' ? ['--', counter] : []), ...(cmd === 'command' ? ['--status'] : [])]);
      assertOneLineError(r, /--ckpt-dir: an empty path/);
    }
    assertOneLineError(await job.cli(['restart', '']), /restart: an empty target path/);
    assertOneLineError(await job.cli(['inspect', '']), /inspect: an empty target path/);
  });

  it('a 30-day --interval waits (no checkpoints back to back past the 24.8-day timer limit)', async () => {
    const p = job.launch([counter], { flags: ['--interval', String(THIRTY_DAYS)] });
    await p.waitFor(/^count 2$/);
    await sleep(2500);
    assert.ok(!existsSync(join(job.dir, 'gen-000001')), 'an interval checkpoint ran right away');
    const set = await job.cli(['command', '--ckpt-dir', job.dir, '--interval', '2147484']);
    assert.equal(set.exitCode, 0, set.stderr);
    await sleep(2500);
    assert.ok(!existsSync(join(job.dir, 'gen-000001')), 'an interval checkpoint ran right away after --interval 2147484');
    // Not even tried (an attempt that aborted leaves no generation, only its line in the log).
    assert.doesNotMatch(readFileSync(join(job.dir, 'coordinator.log'), 'utf8'), /checkpoint|generation/);
    const s = JSON.parse((await job.cli(['command', '--ckpt-dir', job.dir, '--status', '--json'])).stdout) as { interval: number };
    assert.equal(s.interval, 2147484);
    assert.ok(!p.exited);
  });
});
