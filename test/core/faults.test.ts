// What must never happen: losing a committed generation, or restoring from a
// damaged image. And bad input gets one clear line and a non-zero exit.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync, truncateSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Job, numbers, programs } from '../helpers/stasis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const counter = join(programs, 'counter');

function imageOf(genDir: string): string {
  const img = readdirSync(genDir).find((f) => f.endsWith('.img'));
  assert.ok(img, `no image in ${genDir}`);
  return join(genDir, img);
}

describe('faults and bad input', function () {
  this.timeout(60000);

  it('SIGKILL in the middle of writing generation 2 leaves generation 1 intact and restorable', async () => {
    const job = new Job();
    try {
      const p = job.launch([counter], { env: { STASIS_FAULT: 'save-slow@2' } });
      await p.waitFor(/^count 5$/);
      const g1 = await job.checkpoint();
      const savedAt = numbers(p.lines, /^count (\d+)$/).at(-1)!;
      const pending = job.checkpoint().then(() => 'committed', (e: Error) => e.message);
      // Wait until generation 2 is being written, then kill the process.
      const tmp = join(job.dir, '.gen-000002.tmp');
      for (let i = 0; i < 200 && !(existsSync(tmp) && readdirSync(tmp).some((f) => f.endsWith('.img'))); i++) await sleep(50);
      assert.ok(existsSync(tmp), 'generation 2 was never started');
      await p.kill9();
      const outcome = await pending;
      assert.notEqual(outcome, 'committed');
      assert.match(outcome, /abort|died|disconnect|fail/i);
      assert.ok(!existsSync(join(job.dir, 'gen-000002')), 'a broken generation was committed');
      assert.equal(readlinkSync(join(job.dir, 'latest')), 'gen-000001');
      assert.ok(existsSync(g1.dir));
      const r = job.restart();
      const first = Number((await r.waitFor(/^count (\d+)$/))[1]);
      assert.ok(first > savedAt - 50 && first <= numbers(p.lines, /^count (\d+)$/).at(-1)! + 1);
    } finally {
      await job.cleanup();
    }
  });

  for (const damage of ['truncated', 'bit-flipped'] as const) {
    it(`a ${damage} image is refused by restart and inspect before anything is mapped`, async () => {
      const job = new Job();
      try {
        const p = job.launch([counter]);
        await p.waitFor(/^count 3$/);
        const g = await job.checkpoint();
        await p.kill9();
        const img = imageOf(g.dir);
        const size = statSync(img).size;
        if (damage === 'truncated') truncateSync(img, Math.floor(size / 2));
        else {
          const buf = readFileSync(img);
          buf[Math.floor(size * 0.6)]! ^= 0x10;
          writeFileSync(img, buf);
        }
        const r = job.restart();
        const code = await r.waitExit();
        assert.notEqual(code, 0);
        assert.equal(r.lines.length, 0, 'the program ran from a damaged image');
        assert.match(r.errLines.join('\n'), damage === 'truncated' ? /truncated|corrupt/ : /corrupt|checksum/);
        const inspect = await job.cli(['inspect', g.dir]);
        assert.notEqual(inspect.exitCode, 0);
        assert.match(inspect.stderr, /corrupt|truncated|checksum/);
        assert.equal(inspect.stderr.trim().split('\n').length, 1, `not one line: ${inspect.stderr}`);
        // The loader itself refuses it too, whoever calls it.
        const loader = await job.cli(['inspect', img]);
        assert.notEqual(loader.exitCode, 0);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('an unknown program exits 127 with a message', async () => {
    const job = new Job();
    try {
      const r = job.launch(['/no/such/program-xyz']);
      assert.equal(await r.waitExit(), 127);
      assert.match(r.errLines.join('\n'), /program-xyz/);
    } finally {
      await job.cleanup();
    }
  });

  it('a coordinator port already in use is a clear error', async () => {
    const server = createServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    const job = new Job();
    try {
      const r = await job.cli(['coordinator', '--ckpt-dir', job.dir, '--port', String(port)]);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, new RegExp(`${port}.*(in use|EADDRINUSE)`, 'i'));
      assert.equal(r.stderr.trim().split('\n').length, 1);
    } finally {
      server.close();
      await job.cleanup();
    }
  });

  it('restart of a missing or empty directory is a clear error', async () => {
    const job = new Job();
    try {
      const missing = await job.cli(['restart', join(job.dir, 'nope')]);
      assert.notEqual(missing.exitCode, 0);
      assert.match(missing.stderr, /nope/);
      const empty = join(job.dir, 'empty');
      mkdirSync(empty);
      const e = await job.cli(['restart', empty]);
      assert.notEqual(e.exitCode, 0);
      assert.match(e.stderr, /no (committed )?(checkpoint|generation)/i);
      rmSync(empty, { recursive: true });
    } finally {
      await job.cleanup();
    }
  });

  it('images and manifests are private (mode 0600)', async () => {
    const job = new Job();
    try {
      const p = job.launch([counter]);
      await p.waitFor(/^count 2$/);
      const g = await job.checkpoint();
      await p.kill9();
      for (const f of readdirSync(g.dir)) assert.equal(statSync(join(g.dir, f)).mode & 0o777, 0o600, f);
    } finally {
      await job.cleanup();
    }
  });
});
