// Real programs from Debian's archive that hold sockets: a server and its
// own client in one job (redis-server and redis-cli), and a JVM program
// with a ServerSocket and client threads — each run once uninterrupted,
// then checkpointed at random moments, killed and restarted twice; the
// output must be the reference's.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { realTest, removeTempDirs, tempDir, workloads } from './harness.js';

/** A port for one test's server, below the kernel's ephemeral range (which
 *  any outgoing connection on the host may take), so unlikely to be taken;
 *  the reference and restarted runs use it in turn. */
function port(): string {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  return String(10000 + Math.floor(Math.random() * Math.max(1000, low - 10000)));
}

describe('real programs holding sockets, checkpointed, killed and restarted twice', function () {
  this.timeout(240000);
  after(removeTempDirs);

  describe('redis', function () {
    before(function () { if (!existsSync('/usr/bin/redis-server')) this.skip(); });
    realTest('redis-server and redis-cli: one long connection, then a client per command', () => ({
      name: 'redis', argv: ['/bin/bash', join(workloads, 'redis.sh'), port()],
    }));
  });

  describe('a JVM', function () {
    before(function () { if (!existsSync('/usr/bin/java') || !existsSync('/usr/bin/javac')) this.skip(); });
    realTest('java: a ServerSocket served by a thread per connection, four clients on long connections, one connecting per request', () => {
      const classes = tempDir('stasis-real-java-classes-');
      execFileSync('/usr/bin/javac', ['-d', classes, join(workloads, 'SocketJob.java')]);
      // A fixed port, as a server has: one the kernel picks is in the ephemeral
      // range, where another program's connection may take it before the restart.
      return { name: 'java', argv: ['/usr/bin/java', '-cp', classes, 'SocketJob', '400', port()] };
    });
  });
});
