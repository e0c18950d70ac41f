// Lines from the coordinator are read whole up to the protocol's 64 KiB
// (docs/protocol.md), and a longer one is an error, never cut short (issue
// 9, item 13: they were read into 1024 bytes, and a pid table past that
// was silently lost). A stand-in coordinator sends a program's first image
// a long PIDS line before WELCOME, as the coordinator does after an exec.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../helpers/stasis.js';

const launcher = join(repoRoot, 'native', 'build', 'stasis-launch');

/** Answers every HELLO with what `before(kernelPid)` gives, then WELCOME. */
async function standIn(before: (kernelPid: number) => string[]): Promise<{ server: Server; port: number; socks: Socket[] }> {
  const socks: Socket[] = [];
  const server = createServer((sock) => {
    socks.push(sock);
    let partial = '';
    sock.on('error', () => undefined);
    sock.on('data', (c) => {
      partial += c.toString('latin1');
      const nl = partial.indexOf('\n');
      if (nl < 0 || !partial.startsWith('HELLO')) return;
      const hello = partial.slice(0, nl).split(' ');
      partial = '\0';   // answered
      // HELLO 1 token proc pid host name restored image kernel-pid origin
      for (const l of before(Number(hello[9]))) sock.write(`${l}\n`);
      sock.write('WELCOME 1 /nowhere\n');
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return { server, port: (server.address() as { port: number }).port, socks };
}

async function runShell(port: number) {
  return execa(launcher, ['sh', '-c', 'echo pid $$'], {
    env: { STASIS_COORD: `127.0.0.1:${port}`, STASIS_TOKEN: 'x', STASIS_CKPT_DIR: '/nowhere' },
    reject: false, stdin: 'ignore', timeout: 30000,
  });
}

describe('lines from the coordinator', function () {
  this.timeout(60000);

  it('a PIDS line of 4 KiB is read whole: the entry at its end gives the program its pid', async () => {
    const others = Array.from({ length: 300 }, (_, i) => `${20000 + i}=${30000 + i}`);
    const s = await standIn((kernel) => [`PIDS ${[...others, `4242=${kernel}`].join(',')}`]);
    try {
      const r = await runShell(s.port);
      assert.equal(r.stdout.trim(), 'pid 4242', r.stderr);
      assert.equal(r.exitCode, 0);
    } finally {
      s.socks.forEach((x) => x.destroy());
      s.server.close();
    }
  });

  it('a line over 64 KiB is refused with a message, and the program runs on without checkpoints', async () => {
    const s = await standIn(() => [`PIDS ${'1=1,'.repeat(17000)}1=1`]);
    try {
      const r = await runShell(s.port);
      assert.match(r.stderr, /line longer than the protocol's 65536 bytes/);
      assert.match(r.stdout.trim(), /^pid \d+$/);
      assert.equal(r.exitCode, 0);
    } finally {
      s.socks.forEach((x) => x.destroy());
      s.server.close();
    }
  });
});
