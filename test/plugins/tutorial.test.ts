// docs/plugin-tutorial.md runs as written: its C files are written where
// its commands are run (one bash script, in order, from the checkout), and
// what each ```sh block prints must be the ```text block that follows it,
// numbers aside (pids, sizes, times).
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/stasis.js';

interface Block { lang: string; name: string; body: string }

function blocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w+)(?: (\S+))?\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, name: m[2] ?? '', body: m[3]! }));
}

const numbersAside = (s: string) => s.trim().replace(/\d+/g, 'N');

describe('docs/plugin-tutorial.md', function () {
  this.timeout(120000);

  it('every command works as written and prints what the tutorial shows', async () => {
    const all = blocks(readFileSync(join(repoRoot, 'docs', 'plugin-tutorial.md'), 'utf8'));
    let script = 'set -e\n';
    const expected: string[] = [];
    let shells = 0;
    for (const [i, b] of all.entries()) {
      if (b.lang === 'c') {
        assert.ok(b.name, 'a C block without a file name');
        script += `cat > ${b.name} <<'TUTORIAL_EOF'\n${b.body}TUTORIAL_EOF\n`;
      } else if (b.lang === 'sh') {
        script += `echo "@@ block ${shells++}"\n${b.body}`;
        expected.push(all[i + 1]?.lang === 'text' ? all[i + 1]!.body : '');
      }
    }
    script += 'echo "@@ end"; rm -rf "$PWD"\n';
    assert.ok(shells >= 4, `only ${shells} command blocks`);
    const r = await execa('bash', ['-c', script], { cwd: repoRoot, reject: false, env: { PATH: process.env.PATH! } });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const printed = r.stdout.split(/^@@ (?:block \d+|end)$/m).slice(1, -1);
    assert.equal(printed.length, shells, r.stdout);
    // "The restarted process has the pid it had."
    const pids = new Set([...r.stdout.matchAll(/^hello_plugin\[(\d+)\]/gm)].map((m) => m[1]));
    assert.equal(pids.size, 1, r.stdout);
    for (let k = 0; k < shells; k++)
      assert.equal(numbersAside(printed[k]!), numbersAside(expected[k]!), `block ${k} printed:\n${printed[k]}`);
  });
});
