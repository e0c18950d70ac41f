// Programs that point their own stdout at the file they write: sort -o with
// more input than its buffer (so it spills to temporary files and merges
// them), and tar -czf (tar pipes into gzip, whose stdout is the archive).
import { writeFileSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { realTest, removeTempDirs, textLines } from './harness.js';

describe('real programs: sort -o and tar -czf, checkpointed, killed and restarted twice', function () {
  this.timeout(180000);
  after(removeTempDirs);

  realTest('sort -S 64K -o of a 38 MB file', {
    name: 'sort', argv: ['/usr/bin/sort', '-S', '64K', '-o', 'sorted.txt', 'input.txt'], outputs: ['sorted.txt'],
    setup: (dir) => writeFileSync(join(dir, 'input.txt'), textLines(1000000, 1)),
  });

  // gzip reading a pipe stores no name or time, and tar is told the rest:
  // the archive's bytes are the same in every run.
  realTest('tar -czf of a 56 MB tree', {
    name: 'tar', argv: ['/usr/bin/tar', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-czf', 'out.tar.gz', 'data'],
    outputs: ['out.tar.gz'],
    setup: (dir) => {
      for (let d = 0; d < 8; d++) {
        mkdirSync(join(dir, 'data', `d${d}`), { recursive: true });
        for (let f = 0; f < 10; f++) writeFileSync(join(dir, 'data', `d${d}`, `f${f}.txt`), textLines(20000, 100 + d * 10 + f));
      }
    },
  });
});
