// Pseudo-terminals: a parent drives a child that runs on a pty as session
// leader with the slave as its controlling terminal (test/programs/pty.c).
// Lines toward the child and answers toward the parent are in flight at
// each checkpoint; after SIGKILL and restart, twice, every line arrives
// exactly once and in order, canonical reads still return whole lines, and
// the child still has its termios, window size, SIGWINCH handler,
// controlling terminal and foreground group.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { Job, Running, numbers, programs, stasisBin, noBroken } from '../helpers/stasis.js';

/** The drainer's records: [input segments, output bytes, packet mode] per pair. */
function records(dir: string): Array<[number, number, number]> {
  return readdirSync(dir).filter((f) => f.endsWith('.ptys')).flatMap((f) =>
    [...readFileSync(join(dir, f), 'latin1').matchAll(/^pty \d+ \d (\d) (?:-?\d+ ){6}(\d+) (\d+) [0-9a-f]+$/gm)]
      .map((m) => [Number(m[2]), Number(m[3]), Number(m[1])] as [number, number, number]));
}

describe('pseudo-terminals', function () {
  this.timeout(120000);

  const variants = [
    { name: 'a child on a pty', args: [], processes: 2 },
    { name: 'a foreground job of a shell-like session leader', args: ['shell'], processes: 3 },
  ];
  for (const v of variants) it(`${v.name} keeps its terminal and every byte in flight across checkpoint, kill and restart, twice`, async () => {
    const job = new Job();
    try {
      let p = job.launch([join(programs, 'pty'), ...v.args]);
      await p.waitFor(/^ack 120 /, 30000);
      let outputInFlight = 0;
      for (let round = 1; round <= 2; round++) {
        // The ack just seen was printed as the parent emptied the output queue
        // (it reads every 200 ms): half a period later the child has answered
        // again, so answers are in flight (a checkpoint the moment an ack shows
        // found none, both rounds, in CI on a fast path).
        await sleep(100);
        const g = await job.checkpoint();
        const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
        assert.equal(manifest.processes.length, v.processes, 'every process is in the generation');
        const recs = records(g.dir);
        assert.equal(recs.length, 1, 'one process (the master holder) saved the pair');
        assert.ok(recs[0]![0] > 0, `round ${round}: lines toward the child were in flight`);
        outputInFlight += recs[0]![1];
        assert.equal(recs[0]![2], 1, 'the master was in packet mode');
        const last = numbers(p.lines, /^ack (\d+) /).at(-1)!;
        await job.killTree(p);
        const r = job.restart();
        await r.waitFor(new RegExp(`^ack ${last + 160} |BROKEN`), 60000);   // a failure stops the wait
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

  it('a damaged .ptys file stops the restart and inspect with one line naming it', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'pty')]);
      await p.waitFor(/^ack 40 /, 30000);
      const g = await job.checkpoint();
      await job.killTree(p);
      const name = readdirSync(g.dir).find((f) => f.endsWith('.ptys'))!;
      const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
      assert.ok(JSON.stringify(manifest).includes(name), 'the manifest lists the .ptys file');
      const f = join(g.dir, name);
      const bytes = readFileSync(f);
      bytes[6] = bytes[6]! ^ 0x01;   // inside the first record's header
      writeFileSync(f, bytes);
      const inspect = await job.cli(['inspect', g.dir]);
      assert.notEqual(inspect.exitCode, 0);
      assert.ok(inspect.stderr.includes(`${f}: corrupt`), inspect.stderr);
      const r = job.restart();
      assert.notEqual(await r.waitExit(30000), 0);
      const line = r.errLines.find((l) => l.includes('.ptys'));
      assert.ok(line && /corrupt/.test(line), `stderr names the damaged file: ${r.errLines.join(' | ')}`);
    } finally {
      await job.cleanup();
    }
  });

  it('a job on the user\'s terminal (a pty outside the job) gets the restarter\'s terminal, as with any stdio', async () => {
    const job = new Job();
    // `script` gives the job a terminal whose master it holds: outside the job.
    const onTerminal = (cmd: string[]) => new Running(execa('script', ['-qfec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null'],
      { stdin: 'ignore', buffer: false, reject: false }));
    const started: Running[] = [];
    try {
      const p = onTerminal(['node', stasisBin, 'launch', '--ckpt-dir', job.dir, '--', join(programs, 'pty'), 'stdio']);
      started.push(p);
      await p.waitFor(/^tick 5 \/dev\/pts\/\d+/, 20000);
      await job.checkpoint();
      for (const pid of await job.kernelPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      // script relays the terminal's output with a lag: every tick printed before the kill (the
      // checkpoint's among them) has reached us only a moment later.
      await sleep(500);
      const last = numbers(p.lines, /^tick (\d+) /).at(-1)!;
      await p.kill9();
      const r = onTerminal(['node', stasisBin, 'restart', job.dir]);
      started.push(r);
      const m = await r.waitFor(/^tick (\d+) (\S+)/, 30000);
      assert.ok(Number(m[1]) <= last + 1, `resumed at tick ${m[1]}, after ${last}`);
      assert.match(m[2]!, /^\/dev\/pts\/\d+$/, 'stdout is a terminal again: the restarter\'s');
      await r.waitFor(new RegExp(`^tick ${last + 20} `), 20000);   // through the new terminal's master: the restarter's
      for (const pid of await job.kernelPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    } finally {
      for (const r of started) await r.kill9().catch(() => undefined);
      await job.cleanup();
    }
  });

  it('a job that reopens the user\'s terminal on its stdout (exec > $(tty)) gets the restarter\'s terminal there', async () => {
    const job = new Job();
    const onTerminal = (cmd: string[]) => new Running(execa('script', ['-qfec', cmd.map((a) => `'${a}'`).join(' '), '/dev/null'],
      { stdin: 'ignore', buffer: false, reject: false }));
    const started: Running[] = [];
    try {
      const p = onTerminal([stasisBin, 'launch', '--ckpt-dir', job.dir, '--', 'bash', '-c', `exec > "$(tty)"; exec ${join(programs, 'pty')} stdio`]);
      started.push(p);
      await p.waitFor(/^tick 5 \/dev\/pts\/\d+/, 20000);
      await job.checkpoint();
      for (const pid of await job.kernelPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      // script relays the terminal's output with a lag: every tick printed before the kill (the
      // checkpoint's among them) has reached us only a moment later.
      await sleep(500);
      const last = numbers(p.lines, /^tick (\d+) /).at(-1)!;
      await p.kill9();
      const r = onTerminal([stasisBin, 'restart', job.dir]);
      started.push(r);
      const m = await r.waitFor(/^tick (\d+) (\S+)/, 30000);
      assert.ok(Number(m[1]) <= last + 1, `resumed at tick ${m[1]}, after ${last}`);
      await r.waitFor(new RegExp(`^tick ${last + 10} `), 20000);
      for (const pid of await job.kernelPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    } finally {
      for (const r of started) await r.kill9().catch(() => undefined);
      await job.cleanup();
    }
  });

  it('refuses a pty whose master a process outside the job holds, naming it', async () => {
    const job = new Job();
    let outsider = 0;   // holds the master, not our child: ended by pid
    try {
      const p = job.launch([join(programs, 'pty'), 'outsider']);
      outsider = Number((await p.waitFor(/^ready: .* master in process (\d+)/, 20000))[1]);
      const r = await job.cli(['command', '--ckpt-dir', job.dir, '--checkpoint']);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /pseudo-terminal whose master process \d+ \(sleep\), which is not in the job, holds too/);
      await job.checkpoint().then(
        () => assert.fail('a second checkpoint must be refused too'),
        (e: Error) => assert.match(e.message, /not in the job/));
      assert.equal(p.exited, false, 'the program keeps running after a refused checkpoint');
      await job.killTree(p);
    } finally {
      if (outsider) process.kill(outsider, 'SIGKILL');
      await job.cleanup();
    }
  });
});
