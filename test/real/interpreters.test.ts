// perl, gawk and python3 programs that run children (backticks, system(),
// pipes, subprocess, os.system, a process pool).
import { join } from 'node:path';
import { realTest, removeTempDirs, workloads } from './harness.js';

describe('real programs: perl, gawk, python3, checkpointed, killed and restarted twice', function () {
  this.timeout(180000);
  after(removeTempDirs);

  realTest('perl with Digest::MD5, backticks, system() and %ENV', {
    name: 'perl', argv: ['/usr/bin/perl', join(workloads, 'perl.pl')],
  });

  realTest('gawk with "cmd" | getline, close() and system()', {
    name: 'gawk', argv: ['/usr/bin/gawk', '-f', join(workloads, 'gawk.awk')],
  });

  realTest('python3 with subprocess.run, shell=True, os.system and a ProcessPoolExecutor', {
    name: 'python3', argv: ['/usr/bin/python3', join(workloads, 'python.py')],
  });
});
