// bash and dash scripts: command substitutions, pipelines, set -e, children
// whose exit status the script checks, files the script writes.
import { join } from 'node:path';
import { realTest, removeTempDirs, workloads } from './harness.js';

describe('real programs: shell scripts, checkpointed, killed and restarted twice', function () {
  this.timeout(180000);
  after(removeTempDirs);

  realTest('bash script with $(…), pipelines, set -e, a log on fd 3 and a loop redirected to a file', {
    name: 'bash', argv: ['/bin/bash', join(workloads, 'bash.sh')], outputs: ['log.txt', 'table.txt'],
  });

  realTest('dash script with $(…), pipelines, set -e and sh -c children exiting 0-3', {
    name: 'dash', argv: ['/bin/dash', join(workloads, 'dash.sh')],
  });
});
