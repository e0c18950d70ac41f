// The environment belongs to the program: after a restart, what stasis
// changed in it (the new coordinator's address and token) must still be
// memory the program's allocator owns (issue 9, item 6: environ entries
// pointed at static buffers, and perl, which frees its environment at exit,
// aborted with "free(): invalid pointer" after every restart).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, numbers, repoRoot } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

const LAST = 60;
const progress = /^perl (\d+)$/;

async function perlTwice(mode: string): Promise<void> {
  const job = new Job();
  try {
    const p = job.launch(['perl', join(repoRoot, 'test', 'programs', 'counter.pl'), String(LAST), mode]);
    const r1 = await checkpointKillRestart(job, p, { progress, minLines: 3 }, 1);
    const r2 = await checkpointKillRestart(job, r1, { progress, minLines: 3 }, 2);
    const coord = JSON.parse(readFileSync(join(job.dir, 'coordinator.json'), 'utf8'));
    const token = readFileSync(join(job.dir, 'token'), 'utf8').trim();
    assert.equal(await r2.waitExit(60000), 0, r2.tail());
    assert.equal(numbers(r2.lines, progress).at(-1), LAST, r2.tail());
    assert.deepEqual(r2.lines.slice(-3), [`env STASIS_COORD=${coord.host}:${coord.port}`, `env STASIS_TOKEN=${token}`, 'done'],
      'a child started after the restart finds the new coordinator');
    assert.deepEqual(r2.errLines.filter((l) => l.trim()), [], 'nothing on stderr');
  } finally {
    await job.cleanup();
  }
}

describe('the environment after a restart', function () {
  this.timeout(120000);

  it('perl exits 0 after two restarts, with the output of an uninterrupted run', () => perlTwice('plain'));

  it('the same when the new token does not fit in the string perl made for the old one', () => perlTwice('shorten'));
});
