// Sockets inside one host, one self-checking program per kind
// (test/programs/sock_*.c): checkpointed mid-transfer, killed with SIGKILL,
// restarted — twice — each program checks every byte it receives against
// the stream it expects (lost, doubled or reordered bytes print BROKEN),
// and the side files show that megabytes were in flight.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, Running, numbers, programs, noBroken } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

/** The records of every X.img.unix file of a generation: [type, bytes queued]. */
function unixRecords(dir: string): { type: number; bytes: number; nmsg: number }[] {
  const out: { type: number; bytes: number; nmsg: number }[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.unix'))) {
    const buf = readFileSync(join(dir, f));
    let at = 0;
    const line = () => { const nl = buf.indexOf(10, at); const s = buf.toString('latin1', at, nl); at = nl + 1; return s; };
    while (at < buf.length && !buf.toString('latin1', at, at + 4).startsWith('end ')) {
      const m = line().match(/^unix (\d+) (\d+) (\d+) (\d+) (\d+)$/);
      assert.ok(m, `${f}: malformed record`);
      let bytes = 0;
      for (let k = 0; k < Number(m[5]); k++) { const len = Number(line()); bytes += len; at += len; }
      out.push({ type: Number(m[1]), bytes, nmsg: Number(m[5]) });
    }
  }
  return out;
}

describe('UNIX sockets: checkpoint mid-transfer, SIGKILL, restart — twice', function () {
  this.timeout(120000);

  it('stream socketpairs (parent and forked child both ways, two threads, one shut down): every byte once and in order, flags, options, EOF', async () => {
    const job = new Job();
    const progress = /^tick (\d+) /;
    try {
      let p: Running = job.launch([join(programs, 'sock_stream')]);
      for (let round = 1; round <= 2; round++) {
        const r = await checkpointKillRestart(job, p, { progress }, round);
        const recs = unixRecords(join(job.dir, `gen-00000${round}`));
        const inFlight = recs.reduce((a, b) => a + b.bytes, 0);
        assert.ok(inFlight > 2 << 20, `only ${inFlight} bytes were in flight at checkpoint ${round}`);
        await r.waitFor(/^child got \d+$/, 20000);   // the child reads on after the restart
        p = r;
      }
      const ticks = numbers(p.lines, progress).at(-1)!;
      await p.waitFor(new RegExp(`^tick ${ticks + 10} `), 20000);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});
