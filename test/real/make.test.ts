// make -j2 of a small C project: two compilers at a time, each a tree of
// gcc, cc1, as started by make with posix_spawn.
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { realTest, removeTempDirs, workloads } from './harness.js';

describe('real programs: make -j2, checkpointed, killed and restarted twice', function () {
  this.timeout(180000);
  after(removeTempDirs);

  realTest('make -j2 builds the same program with the same exit status', {
    name: 'make', argv: ['/usr/bin/make', '-j2'], stdout: 'ignore', after: ['./prog'],
    setup: (dir) => { execFileSync('sh', [join(workloads, 'make-project.sh')], { cwd: dir }); },
  });
});
