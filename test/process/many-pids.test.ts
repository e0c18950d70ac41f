// A job of 151 processes: the pid table every restored process gets no
// longer fits a short line (issue 9, item 13: it was read into 1024 bytes
// and cut short, so with some 80 processes a parent lost its later
// children). After a restart every child still has its pid and its parent,
// and the parent still signals and reaps each child by the pid it knew.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Job, noBroken, programs } from '../helpers/stasis.js';

const CHILDREN = 150;

function byChild(lines: string[], re: RegExp): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const l of lines) { const x = l.match(re); if (x) m.set(Number(x[1]), x.slice(2)); }
  return m;
}

describe('a job of many processes', function () {
  this.timeout(300000);

  it(`a parent and ${CHILDREN} children keep every pid after a restart (getpid, getppid, kill, waitpid)`, async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'many_children'), String(CHILDREN), '60']);
      await p.waitFor(/^tick 2$/, 120000);
      const forked = byChild(p.lines, /^forked (\d+) (\d+)$/);
      assert.equal(forked.size, CHILDREN);
      const g = await job.checkpoint();
      const manifest = JSON.parse(readFileSync(join(g.dir, 'manifest.json'), 'utf8'));
      assert.equal(manifest.processes.length, CHILDREN + 1, 'every process is in the generation');
      noBroken(p.lines);   // before the kill: children outliving their parent then see ppid 1
      await job.killTree(p);
      const r = job.restart();
      await r.waitFor(/^done$/, 180000);
      assert.equal(await r.waitExit(), 0, r.tail());
      noBroken(r.lines);
      const ended = byChild(r.lines, /^child (\d+) end pid=(\d+) ppid=(\d+)$/);
      const reaped = byChild(r.lines, /^reaped (\d+)$/);
      for (let k = 0; k < CHILDREN; k++) {
        const pid = forked.get(k)![0];
        assert.deepEqual(ended.get(k), [pid, String(p.pid)], `child ${k}: getpid/getppid after the restart`);
        assert.ok(reaped.has(k), `child ${k} reaped by its pid`);
      }
    } finally {
      await job.cleanup();
    }
  });
});
