// Pseudo-terminals: a parent drives a child that runs on a pty as session
// leader with the slave as its controlling terminal (test/programs/pty.c).
// Lines toward the child and answers toward the parent are in flight at
// each checkpoint; after SIGKILL and restart, twice, every line arrives
// exactly once and in order, canonical reads still return whole lines, and
// the child still has its termios, window size, SIGWINCH handler,
// controlling terminal and foreground group.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { Job, numbers, programs } from '../helpers/stasis.js';

function noBroken(lines: string[]): void {
  const bad = lines.find((l) => l.includes('BROKEN'));
  assert.ok(!bad, bad);
}

/** The drainer's records: [input segments, output bytes] per pair. */
function records(dir: string): Array<[number, number]> {
  return readdirSync(dir).filter((f) => f.endsWith('.ptys')).flatMap((f) =>
    [...readFileSync(join(dir, f), 'latin1').matchAll(/^pty \d+ (?:-?\d+ ){8}(\d+) (\d+) [0-9a-f]+$/gm)]
      .map((m) => [Number(m[1]), Number(m[2])] as [number, number]));
}

describe('pseudo-terminals', function () {
  this.timeout(120000);

  it('a child on a pty keeps its terminal and every byte in flight across checkpoint, kill and restart, twice', async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'pty')]);
      await p.waitFor(/^ack 120 /, 30000);
      let outputInFlight = 0;
      for (let round = 1; round <= 2; round++) {
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        assert.equal(manifest.processes.length, 2, 'parent and child are in the generation');
        const recs = records(g.dir);
        assert.equal(recs.length, 1, 'one process (the master holder) saved the pair');
        assert.ok(recs[0]![0] > 0, `round ${round}: lines toward the child were in flight`);
        outputInFlight += recs[0]![1];
        const last = numbers(p.lines, /^ack (\d+) /).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^ack ${last + 160} `), 60000);
        noBroken(r.lines);
        const acks = numbers(r.lines, /^ack (\d+) /);
        acks.forEach((k, i) => i > 0 && assert.equal(k, acks[i - 1]! + 1, `round ${round}: ack ${k} after ${acks[i - 1]}`));
        assert.ok(acks[0]! <= last + 1, `round ${round}: the parent resumed at ${acks[0]}, having seen ${last} before the kill`);
        const shown = r.lines.filter((l) => l.startsWith('ack '));
        assert.ok(shown.some((l) => / raw /.test(l)) && shown.some((l) => / canon /.test(l)), 'both modes ran after the restart');
        assert.ok(new Set(shown.map((l) => l.split(' ')[3])).size > 1, 'the window was resized after the restart');
        assert.match(shown.at(-1)!, / \/dev\/pts\/\d+$/, 'the child names its (possibly new) terminal');
        p = r;
      }
      assert.ok(outputInFlight > 0, 'answers toward the parent were in flight at a checkpoint');
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('refuses a pty whose master a process outside the job holds, naming it', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'pty'), 'outsider']);
      await p.waitFor(/^ready/, 20000);
      const r = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /pseudo-terminal whose master process \d+ \(sleep\), which is not in the job, holds too/);
      await job.checkpoint().then(
        () => assert.fail('a second checkpoint must be refused too'),
        (e: Error) => assert.match(e.message, /not in the job/));
      assert.equal(p.exited, false, 'the program keeps running after a refused checkpoint');
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});
