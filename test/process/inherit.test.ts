// What a job inherits from whoever started it: `stasis launch` hands every
// descriptor on exactly as it got it (DESIGN: "What the job made, and what
// it inherited").
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Job, Running, programs, repoRoot, stasisBin } from '../helpers/stasis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fdHandover = join(programs, 'fd_handover');

/** Runs `cmd` with descriptors 3-9, 40 and 200 open (fd_handover open); its stdout lines. */
async function withFds(dir: string, cmd: string[]): Promise<string[]> {
  const r = await execa(fdHandover, ['open', dir, '--', ...cmd], { reject: false, stdin: 'ignore' });
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** A directory holding what redirects.sh reads: its input and a log that already has a line. */
function redirectsDir(at: string): string {
  mkdirSync(at);
  writeFileSync(join(at, 'input'), Array.from({ length: 200 }, (_, i) => `in ${i + 1}\n`).join(''));
  writeFileSync(join(at, 'log'), 'before\n');
  return at;
}

describe('descriptors inherited at launch', function () {
  this.timeout(120000);

  it('stasis launch hands on descriptors 3-9 and high ones with their numbers and flags, as exec does', async () => {
    const job = new Job();
    try {
      const plain = await withFds(job.dir, [fdHandover, 'list']);
      const launched = await withFds(job.dir, [stasisBin, 'launch', '--ckpt-dir', job.dir, '--', fdHandover, 'list']);
      for (const fd of [3, 4, 5, 6, 7, 9, 40, 200]) assert.ok(plain.some((l) => l.startsWith(`fd ${fd} `)), `fd ${fd} opened`);
      assert.ok(!plain.some((l) => /^fd (8|300) /.test(l)), 'close-on-exec ones do not arrive');
      assert.deepEqual(launched, plain);
    } finally {
      await job.cleanup();
    }
  });

  it('output a job script redirected itself survives two restarts byte for byte; its own stdout is the restarter\'s', async () => {
    const job = new Job();
    try {
      const script = join(repoRoot, 'test', 'programs', 'redirects.sh');
      const files = ['pipe_result', 'log', 'exec_file', 'both', 'read_out'];
      const plainDir = redirectsDir(join(job.dir, 'plain'));
      const plain = execa('bash', [script, plainDir, '100'], { stdin: 'ignore', reject: false });
      const dir = redirectsDir(join(job.dir, 'job'));
      let p: Running = job.launch(['bash', script, dir, '100']);
      await p.waitFor(/^started$/);
      for (let round = 1; round <= 2; round++) {
        await sleep(800);
        await job.checkpoint();
        await sleep(300);
        await job.killTree(p);
        p = job.restart();
      }
      await p.waitFor(/^all done$/, 30000);
      assert.ok(p.lines.includes('back on stdout'), `the saved stdout is the restarter's: ${p.tail()}`);
      assert.equal((await plain).exitCode, 0);
      for (const f of files)
        assert.equal(readFileSync(join(dir, f), 'latin1'), readFileSync(join(plainDir, f), 'latin1'), `${f} differs`);
    } finally {
      await job.cleanup();
    }
  });

  it('a child of the launched program keeps no copy of what it inherited: a reader of its stdout sees EOF when the job lets go', async () => {
    const job = new Job();
    try {
      const started = Date.now();
      const r = await execa('bash', ['-c', 'x=$("$STASIS" launch --ckpt-dir "$D" -- bash -c "sleep 6 > /dev/null 2>&1 & echo hi"); echo "got $x"'],
        { env: { STASIS: stasisBin, D: job.dir }, stdin: 'ignore', reject: false });
      assert.equal(r.stdout, 'got hi', r.stderr);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms: the background sleep held the pipe`);
    } finally {
      await job.cleanup();
    }
  });

  describe('a pipe on fd 7 that the parent outside the job holds too', () => {
    /** bash holding fd 7, the write end of a pipe into `cat > out` outside the job, runs `stasis ARGS`. */
    const withPipe7 = (out: string, args: string[]) => new Running(execa('bash', ['-c',
      'exec 7> >(exec cat > "$OUT"); "$STASIS" "$@"; status=$?; exec 7>&-; wait; exit $status', 'with-pipe7', ...args],
    { env: { OUT: out, STASIS: stasisBin }, stdin: 'ignore', buffer: false, reject: false }));
    const n = /^n (\d+)$/;

    it('does not block a checkpoint; a restart takes fd 7 from the restarter, or gets one whose reader is gone', async () => {
      const job = new Job();
      const started: Running[] = [];
      try {
        const p = withPipe7(join(job.dir, 'out1'), ['launch', '--ckpt-dir', job.dir, '--', fdHandover, 'write', '7']);
        started.push(p);
        await p.waitFor(/^n 5$/);
        const ck = await job.checkpoint();
        assert.equal(ck.generation, 1);
        await job.killTree(p);
        assert.match(readFileSync(join(job.dir, 'out1'), 'latin1'), /^w 1\nw 2\n/);

        // The restarter has a fd 7 (another pipe): the job writes there.
        const a = withPipe7(join(job.dir, 'out2'), ['restart', ck.dir]);
        started.push(a);
        await a.waitFor(/^n (\d*[1-9]\d)$/);   // ten or more
        await job.killTree(a);
        const got = readFileSync(join(job.dir, 'out2'), 'latin1').split('\n').filter(Boolean);
        assert.ok(got.length >= 3 && got.every((l) => /^w \d+$/.test(l)), `out2: ${got.join(',')}`);
        assert.ok(!a.lines.some((l) => l.startsWith('wfail')), a.tail());
        assert.ok(!a.errLines.some((l) => /fd 7/.test(l)), a.tail());

        // It has none: a write end whose reader is gone, and the restart says so once.
        const b = new Running(execa('bash', ['-c', 'exec 7>&-; exec "$STASIS" restart "$GEN"'],
          { env: { STASIS: stasisBin, GEN: ck.dir }, stdin: 'ignore', buffer: false, reject: false }));
        started.push(b);
        await b.waitFor(/^wfail \d+ Broken pipe$/);
        const first = Number((await b.waitFor(n))[1]);
        await b.waitFor(new RegExp(`^n ${first + 3}$`));
        await job.killTree(b);
        const said = b.errLines.filter((l) => /fd 7 at launch/.test(l));
        assert.equal(said.length, 1, b.errLines.join('\n'));
        assert.match(said[0]!, /other end is gone/);
      } finally {
        for (const r of started) await r.kill9().catch(() => undefined);
        await job.cleanup();
      }
    });

    it('--close-inherited closes it at launch', async () => {
      const job = new Job();
      try {
        const kept = withPipe7(join(job.dir, 'out1'), ['launch', '--ckpt-dir', job.dir, '--', fdHandover, 'list']);
        const closed = withPipe7(join(job.dir, 'out2'), ['launch', '--ckpt-dir', job.dir, '--close-inherited', '--', fdHandover, 'list']);
        assert.equal(await kept.waitExit(), 0, kept.tail());
        assert.equal(await closed.waitExit(), 0, closed.tail());
        assert.ok(kept.lines.some((l) => l.startsWith('fd 7 ')), kept.lines.join('\n'));
        assert.ok(!closed.lines.some((l) => /^fd ([3-9]|[1-9]\d+) /.test(l)), closed.lines.join('\n'));
        assert.ok(closed.lines.some((l) => l.startsWith('fd 1 ')));
      } finally {
        await job.cleanup();
      }
    });
  });
});

describe('programs stasis cannot reach', function () {
  this.timeout(60000);

  it('stasis launch refuses a statically linked program, found through PATH or as a script\'s interpreter, with exit 126', async () => {
    const job = new Job();
    try {
      const script = join(job.dir, 'script');
      writeFileSync(script, `#!${join(programs, 'static_hello')}\n`, { mode: 0o755 });
      for (const [argv, env] of [[['static_hello'], { PATH: `${programs}:/usr/bin:/bin` }], [[script], {}]] as const) {
        const r = await execa(stasisBin, ['launch', '--ckpt-dir', job.dir, '--', ...argv], { reject: false, stdin: 'ignore', env });
        assert.equal(r.exitCode, 126, r.stderr);
        assert.equal(r.stdout, '', 'the program did not run');
        const lines = r.stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, /static_hello is statically linked/);
      }
      // A static wrapper that execs a dynamic program is launched with --allow-static.
      const r = await execa(stasisBin, ['launch', '--ckpt-dir', job.dir, '--allow-static', '--', script], { reject: false, stdin: 'ignore' });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'static hello');
    } finally {
      await job.cleanup();
    }
  });
});
