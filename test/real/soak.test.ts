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
import { decodeArg } from '../../src/coordinator/protocol.js';
import { Proc, coordinatorPid, killTree, removeTempDirs, sleep, tempDir, workloads } from './harness.js';

const CHECKPOINTS = 200;
const script = join(workloads, 'soak.sh');
const N = '300';

/** 1,2,3,7,8 → "1–3, 7–8" */
function ranges(ns: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length; i++) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    out.push(j > i ? `${ns[i]}–${ns[j]}` : String(ns[i]));
    i = j;
  }
  return out.join(', ');
}

describe('soak: 200 checkpoints of a job that forks and execs continuously', function () {
  this.timeout(240000);
  after(removeTempDirs);

  it(`commits all ${CHECKPOINTS} checkpoints, keeps 2, and prints what an uninterrupted run prints`, async () => {
    const refDir = tempDir('stasis-soak-ref-');
    writeFileSync(join(refDir, 'stop'), '');
    const ref = await execa('/bin/bash', [script, N], { cwd: refDir, stdin: 'ignore', reject: false });
    assert.equal(ref.exitCode, 0, ref.stderr);

    const dir = tempDir('stasis-soak-');
    const ckpt = tempDir('stasis-soak-ckpt-');
    const p = new Proc(execa('node', [stasisBin, 'launch', '--ckpt-dir', ckpt, '--keep', '2', '--', '/bin/bash', script, N],
      { cwd: dir, stdin: 'ignore', buffer: false, reject: false }));
    const failures: string[] = [];
    const generations: number[] = [];
    const started = Date.now();
    let client: CommandClient | undefined;
    try {
      // What `stasis command --checkpoint` does, on one connection: 200 Node
      // start-ups would take most of the time.
      for (let tries = 0; !client; tries++) {
        await sleep(200);
        try { client = await CommandClient.open(locate({ ckptDir: ckpt })); } catch (e) { if (tries > 100 || p.exited) throw e; }
      }
      // The coordinator is up before the job joins it: until then there is nothing to checkpoint.
      for (let tries = 0; ; tries++) {
        const joined = JSON.parse(decodeArg((await client.request('STATUS'))[1] ?? '')) as { processes: number };
        if (joined.processes > 0) break;
        if (tries > 500 || p.exited) throw new Error('the soak job never joined its coordinator');
        await sleep(20);
      }
      for (let k = 1; k <= CHECKPOINTS && !p.exited; k++) {
        try {
          const [, g] = await client.request('CHECKPOINT');
          generations.push(Number(g));
        } catch (e) { failures.push(`#${k}: ${(e as Error).message}`); }
        if (Date.now() - started > 170000) { failures.push(`stopped after ${k} checkpoints: 170 s`); break; }
        await sleep(20);
      }
      const took = (Date.now() - started) / 1000;
      const status = JSON.parse(decodeArg((await client.request('STATUS'))[1] ?? '')) as { generation: number };
      client.close();
      writeFileSync(join(dir, 'stop'), '');
      await p.wait(60000, 'soak job after stop');
      process.stderr.write(`      soak: ${generations.length} checkpoints committed, ${failures.length} failed, in ${took.toFixed(1)} s\n`);

      const log = readFileSync(join(ckpt, 'coordinator.log'), 'utf8');
      const committed = log.split('\n').filter((l) => /generation \d+ committed/.test(l)).length;
      const gens = readdirSync(ckpt).filter((n) => /^gen-\d+$/.test(n)).sort();
      // Every verdict at once: one run tells all that is wrong.
      const problems: string[] = [];
      if (failures.length) {
        problems.push(`${failures.length} of ${CHECKPOINTS} checkpoints failed (${ranges(failures.map((f) => Number(f.slice(1, f.indexOf(':')))))}): ` +
          `${failures[0]}${failures.length > 1 ? ` … ${failures.at(-1)}` : ''}`);
      }
      // Consecutive from 1 when all commit; an aborted attempt's number is never reused.
      const increasing = generations.every((g, i) => i === 0 || g > generations[i - 1]!);
      const consecutive = generations.every((g, i) => g === i + 1);
      if (!increasing || (!failures.length && !consecutive)) problems.push(`generations numbered ${ranges(generations)}`);
      if (status.generation !== (generations.at(-1) ?? 0)) problems.push(`stasis command --status says generation ${status.generation}, the last checkpoint committed ${generations.at(-1)}`);
      if (committed !== generations.length) problems.push(`coordinator.log reports ${committed} committed generations for ${generations.length} successful checkpoints`);
      const newest = generations.slice(-2).map((g) => `gen-${String(g).padStart(6, '0')}`);
      if (gens.join() !== newest.join()) problems.push(`--keep 2 left ${gens.join(', ')}, expected ${newest.join(', ')}`);
      if (p.exitCode !== 0) problems.push(`job exit ${p.exitCode}: ${p.err.slice(-500)}`);
      const out = p.stdout().toString();
      const broken = out.split('\n').filter((l) => l.startsWith('BROKEN'));
      if (broken.length) problems.push(`children failed during checkpoints: ${broken.slice(0, 5).join(' | ')}`);
      const want = `${ref.stdout}\n`.split('\n'), got = out.split('\n');
      const at = want.findIndex((l, i) => got[i] !== l);
      if (at >= 0 || got.length !== want.length) {
        problems.push(`stdout differs from the uninterrupted run at line ${at + 1}: ${JSON.stringify(got[at])}, expected ${JSON.stringify(want[at])} (${got.length} lines, expected ${want.length})`);
      }
      assert.deepEqual(problems, []);
    } finally {
      client?.close();
      if (!p.exited) await killTree(p.pid);
      const coord = coordinatorPid(ckpt);
      if (coord) { try { process.kill(coord, 'SIGKILL'); } catch { /* gone */ } }
    }
  });
});
