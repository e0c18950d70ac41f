// The exec-time parser (C, native/plugins/ssh) and src/ssh read every row
// of the table alike, and keep the same srun option table.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseRemote } from '../../src/ssh/argv.js';
import { parseSrun, SRUN_OPTIONS } from '../../src/ssh/srun.js';
import { programs } from '../helpers/stasis.js';
import { table } from './table.js';

const printer = join(programs, 'ssh_argv_json');
const cParse = (args: string[]) => JSON.parse(execFileSync(printer, args, { encoding: 'utf8' })) as unknown;

describe('C and TypeScript parsers of ssh, rsh and srun agree', () => {
  it('on every row of the table', () => {
    const differ: string[] = [];
    for (const row of table) {
      const ts = row.tool === 'srun' ? parseSrun(row.argv) : parseRemote(row.argv, row.tool);
      const c = cParse([row.tool, ...row.argv]);
      try { assert.deepEqual(c, ts); } catch { differ.push(`${JSON.stringify(row.argv)}: C ${JSON.stringify(c)} TS ${JSON.stringify(ts)}`); }
    }
    assert.deepEqual(differ, []);
  });

  it('on the srun option table', () => {
    assert.deepEqual(cParse(['--srun-table']), SRUN_OPTIONS.map((o) => [...o]));
  });

  it('on words with odd bytes and escapes', () => {
    for (const argv of [['ssh', 'ssh://a%c3%a9@h', 'x'], ['ssh', 'ssh://a%zz@h', 'x'], ['ssh', 'ssh://a%00@h', 'x'],
      ['ssh', 'h', 'a"b\\c', '\t'], ['ssh', '-o', 'Key\t=v', 'h', 'x']]) {
      assert.deepEqual(cParse(['ssh', ...argv]), parseRemote(argv, 'ssh'), JSON.stringify(argv));
    }
  });
});
