// Soak: one job checkpointed 200 times, back to back, while a bash loop forks
// and execs children without pause. Every checkpoint must commit (none may
// fail, none may be skipped), --keep 2 must leave the newest two, and the
// job's output must be exactly that of an uninterrupted run: a checkpoint
// never changes what a job computes.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stasisBin } from '../helpers/stasis.js';
import { CommandClient, locate } from '../../src/coordinator/client.js';
import { Proc, coordinatorPid, killTree, removeTempDirs, sleep, tempDir, workloads } from './harness.js';

const CHECKPOINTS = 200;
const script = join(workloads, 'soak.sh');
const N = '300';

describe('soak: 200 checkpoints of a job that forks and execs continuously', function () {
  this.timeout(240000);
  after(removeTempDirs);

  it(`commits all ${CHECKPOINTS} checkpoints, keeps 2, and prints what an uninterrupted run prints`, async () => {
    const refDir = tempDir('stasis-soak-ref-');
    writeFileSync(join(refDir, 'stop'), '');
    const ref = await execa('bash', [script, N], { cwd: refDir, stdin: 'ignore', reject: false });
    assert.equal(ref.exitCode, 0, ref.stderr);

    const dir = tempDir('stasis-soak-');
    const ckpt = tempDir('stasis-soak-ckpt-');
    const p = new Proc(execa('node', [stasisBin, 'launch', '--ckpt-dir', ckpt, '--keep', '2', '--', 'bash', script, N],
      { cwd: dir, stdin: 'ignore', buffer: false, reject: false }));
    const failures: string[] = [];
    const generations: number[] = [];
    const started = Date.now();
    let client: CommandClient | undefined;
    try {
      await sleep(300);
      // What `stasis command --checkpoint` does, on one connection: 200 Node
      // start-ups would take most of the time.
      client = await CommandClient.open(locate({ ckptDir: ckpt }));
      for (let k = 1; k <= CHECKPOINTS && !p.exited; k++) {
        try {
          const [, g] = await client.request('CHECKPOINT');
          generations.push(Number(g));
        } catch (e) { failures.push(`#${k}: ${(e as Error).message}`); }
        if (Date.now() - started > 170000) { failures.push(`stopped after ${k} checkpoints: 170 s`); break; }
        await sleep(20);
      }
      const took = (Date.now() - started) / 1000;
      client.close();
      writeFileSync(join(dir, 'stop'), '');
      await p.wait(60000, 'soak job after stop');
      process.stderr.write(`      soak: ${generations.length} checkpoints committed, ${failures.length} failed, in ${took.toFixed(1)} s\n`);

      const log = readFileSync(join(ckpt, 'coordinator.log'), 'utf8');
      const committed = log.split('\n').filter((l) => /generation \d+ committed/.test(l)).length;
      const gens = readdirSync(ckpt).filter((n) => /^gen-\d+$/.test(n)).sort();
      const summary = failures.length
        ? `${failures.length} of ${CHECKPOINTS} checkpoints failed (first after ${generations.length ? `generation ${generations[0]}…${generations.at(-1)}` : 'none'}): ${failures.slice(0, 3).join(' | ')}${failures.length > 3 ? ` … ${failures.at(-1)}` : ''}`
        : '';
      assert.equal(failures.length, 0, summary);
      assert.deepEqual(generations, Array.from({ length: CHECKPOINTS }, (_, i) => i + 1), 'generations not numbered 1..200 in order');
      assert.equal(committed, CHECKPOINTS, `coordinator.log reports ${committed} committed generations`);
      assert.deepEqual(gens, ['gen-000199', 'gen-000200'], '--keep 2 pruning');
      assert.equal(p.exitCode, 0, `job exit ${p.exitCode}: ${p.err.slice(-500)}`);
      const out = p.stdout().toString();
      const broken = out.split('\n').filter((l) => l.startsWith('BROKEN'));
      assert.deepEqual(broken, [], 'children failed during checkpoints');
      const want = `${ref.stdout}\n`.split('\n'), got = out.split('\n');
      const at = want.findIndex((l, i) => got[i] !== l);
      assert.ok(at < 0 && got.length === want.length,
        `stdout differs from the uninterrupted run at line ${at + 1}: ${JSON.stringify(got[at])}, expected ${JSON.stringify(want[at])} (${got.length} lines, expected ${want.length})`);
    } finally {
      client?.close();
      if (!p.exited) await killTree(p.pid);
      const coord = coordinatorPid(ckpt);
      if (coord) { try { process.kill(coord, 'SIGKILL'); } catch { /* gone */ } }
    }
  });
});
