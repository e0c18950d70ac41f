// STATUS of a job too big for one protocol line (64 KiB: about 450
// processes) comes in pieces; `stasis command --status` on both paths
// (Node CLI and bin/stasis's fast path) reads it whole.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_LINE, pieceLines } from '../../src/coordinator/protocol.js';
import { Job, stasisBin } from '../helpers/stasis.js';
import { LineClient } from './util.js';

describe('STATUS in pieces', function () {
  this.timeout(120000);

  it('pieceLines: every line within MAX_LINE, no escape cut, the pieces join to the text', () => {
    for (const text of ['short', 'a%20'.repeat(40000), `x${'%2C'.repeat(30000)}`, `xy${'%7B'.repeat(30000)}`]) {
      const lines = pieceLines('STATUS', text);
      for (const l of lines) assert.ok(l.length + 1 <= MAX_LINE, `a line of ${l.length + 1} bytes`);
      assert.ok(lines.slice(0, -1).every((l) => l.startsWith('STATUS+ ')) && lines.at(-1)!.startsWith('STATUS '));
      for (const l of lines) assert.doesNotMatch(l, /%.?$/, 'an escape cut at the end of a piece');
      assert.equal(lines.map((l) => l.slice(l.indexOf(' ') + 1)).join(''), text);
    }
  });

  it('command --status of 600 processes: the whole list, on both paths', async () => {
    const job = new Job('stasis-pieces-');
    const clients: LineClient[] = [];
    try {
      const coord = job.stasis(['coordinator', '--ckpt-dir', job.dir]);
      const port = Number((await coord.waitFor(/listening on [\d.]+:(\d+)/))[1]);
      const token = readFileSync(join(job.dir, 'token'), 'utf8').trim();
      for (let i = 0; i < 600; i++) {
        const c = await LineClient.open(port);
        c.send(`HELLO 1 ${token} proc ${3000000 + i} ${hostname()} stand-in-process-with-a-long-name 0 - ${3000000 + i}\n`);
        clients.push(c);
      }
      for (const c of clients) assert.match(await c.line(20000), /^WELCOME /);
      const raw = await LineClient.open(port);
      raw.send(`HELLO 1 ${token} cmd\nSTATUS\n`);
      await raw.line();
      assert.match(await raw.line(), /^STATUS\+ /, 'one line of more than 64 KiB');
      raw.destroy();
      const args = ['command', '--ckpt-dir', job.dir, '--status'];
      const viaNode = await execa('node', [stasisBin, ...args, '--json'], { reject: false });
      assert.equal(viaNode.exitCode, 0, viaNode.stderr);
      const s = JSON.parse(viaNode.stdout) as { processes: number; clients: unknown[] };
      assert.equal(s.processes, 600);
      assert.equal(s.clients.length, 600);
      const fastJson = await execa(stasisBin, [...args, '--json'], { reject: false, env: { STASIS_FRONT: 'require' } });
      assert.equal(fastJson.stdout, viaNode.stdout, fastJson.stderr);
      const text = await execa('node', [stasisBin, ...args], { reject: false });
      const fastText = await execa(stasisBin, args, { reject: false, env: { STASIS_FRONT: 'require' } });
      assert.equal(text.exitCode, 0, text.stderr);
      assert.deepEqual([fastText.exitCode, fastText.stdout], [0, text.stdout], fastText.stderr);
    } finally {
      clients.forEach((c) => c.destroy());
      await job.cleanup();
    }
  });
});
