// The grammar of ssh, rsh and srun command lines, row by row (table.ts).
import assert from 'node:assert/strict';
import { parseRemote } from '../../src/ssh/argv.js';
import { parseSrun } from '../../src/ssh/srun.js';
import { table } from './table.js';

describe('ssh, rsh and srun command lines', () => {
  for (const row of table) {
    it(`${row.argv.map((w) => JSON.stringify(w)).join(' ')}`, () => {
      const got = row.tool === 'srun' ? parseSrun(row.argv) : parseRemote(row.argv, row.tool);
      assert.deepEqual(got, row.expect);
    });
  }

  it('knows a client only by its base name', () => {
    assert.equal(parseRemote(['x', 'n2', 'ls'], '/usr/bin/scp'), null);
    assert.deepEqual(parseRemote(['ssh', 'n2', 'ls'], '/usr/bin/ssh'), parseRemote(['ssh', 'n2', 'ls'], 'ssh'));
  });
});
