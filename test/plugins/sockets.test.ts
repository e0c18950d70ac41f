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

/** The records of every X.img.unix file of a generation (docs/image-format.md). */
function unixRecords(dir: string): { type: number; bytes: number; nmsg: number; largest: number }[] {
  const out: { type: number; bytes: number; nmsg: number; largest: number }[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.unix'))) {
    const buf = readFileSync(join(dir, f));
    let at = 0;
    const line = () => { const nl = buf.indexOf(10, at); const s = buf.toString('latin1', at, nl); at = nl + 1; return s; };
    while (at < buf.length && !buf.toString('latin1', at, at + 4).startsWith('end ')) {
      const m = line().match(/^unix (\d+) (\d+) (\d+) (\d+) (\d+)$/);
      assert.ok(m, `${f}: malformed record`);
      let bytes = 0, largest = 0;
      for (let k = 0; k < Number(m[5]); k++) { const len = Number(line()); bytes += len; at += len; largest = Math.max(largest, len); }
      out.push({ type: Number(m[1]), bytes, nmsg: Number(m[5]), largest });
    }
  }
  return out;
}

describe('UNIX sockets: checkpoint mid-transfer, SIGKILL, restart — twice', function () {
  this.timeout(120000);

  const cases = [
    {
      name: 'stream socketpairs (parent and forked child both ways, two threads, one shut down): every byte once and in order, flags, options, EOF',
      program: 'sock_stream', types: [1], minBytes: 2 << 20, minMessages: 0,
    },
    {
      name: 'datagram (parent and child) and seqpacket (two threads) socketpairs: no message lost, doubled, merged or cut',
      program: 'sock_dgram', types: [2, 5], minBytes: 256 << 10, minMessages: 100, largerThanAPeek: true,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, c.program)]);
        for (let round = 1; round <= 2; round++) {
          const r = await checkpointKillRestart(job, p, { progress }, round);
          const recs = unixRecords(join(job.dir, `gen-00000${round}`));
          for (const t of c.types) assert.ok(recs.some((x) => x.type === t), `no socket of type ${t} recorded`);
          const bytes = recs.reduce((a, b) => a + b.bytes, 0), messages = recs.reduce((a, b) => a + b.nmsg, 0);
          assert.ok(bytes > c.minBytes, `only ${bytes} bytes were in flight at checkpoint ${round}`);
          assert.ok(messages >= c.minMessages, `only ${messages} messages were in flight at checkpoint ${round}`);
          if ('largerThanAPeek' in c) assert.ok(recs.some((x) => x.largest > 65536), 'no message larger than one peek was in flight');
          await r.waitFor(/^child got \d+$/, 20000);   // the child receives on after the restart
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
  }
});
