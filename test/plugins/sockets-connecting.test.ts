// A TCP socket still connecting (SYN_SENT) at the checkpoint
// (test/programs/sock_connecting.c: a non-blocking connect() toward a
// listener whose queue is full, so the SYN goes unanswered for seconds):
// the job goes on and the connection completes; after a restart the socket
// connects again to the same address — to the job's own listener it
// completes, to a server outside the job whatever that server does now.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { join } from 'node:path';
import { Job, Running, programs, noBroken } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

const python = '/usr/bin/python3';

// A server outside the job whose listen queue a connection of its own
// fills (backlog 0) until it reads a line on stdin; then it serves: "C"
// gets "ok\n", then every 8 bytes come back.
const FULL_SERVER = `
import socket, sys, threading
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(0)
filler = socket.create_connection(l.getsockname())
print(l.getsockname()[1], flush=True)
sys.stdin.readline()
def serve(s):
    if s.recv(1) != b'C': return s.close()
    s.sendall(b'ok\\n')
    while True:
        b = s.recv(8)
        if not b: return
        s.sendall(b)
while True:
    s, _ = l.accept()
    threading.Thread(target=serve, args=(s,), daemon=True).start()
`;

describe('a TCP socket still connecting at the checkpoint', function () {
  this.timeout(120000);
  const progress = /^tick (\d+)$/;

  it('to a listener of the job, the job going on after the checkpoint: its connect() completes', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'sock_connecting')]);
      await p.waitFor(/^tick 5$/);
      await job.checkpoint();   // the checkpoint did not fail: SYN_SENT is kept
      assert.ok(!p.lines.some((l) => l.startsWith('connected')), 'connected before the checkpoint: nothing was tested');
      await p.waitFor(/^connected at tick \d+$/, 30000);
      await p.waitFor(/^echo \d+$/, 20000);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('to a listener of the job, restarted: it connects again and the connection carries data', async () => {
    const job = new Job();
    try {
      const p: Running = job.launch([join(programs, 'sock_connecting')]);
      const r = await checkpointKillRestart(job, p, { progress }, 1, 5);
      assert.ok(!p.lines.some((l) => l.startsWith('connected')), 'connected before the kill: nothing was tested');
      await r.waitFor(/^connected at tick \d+$/, 30000);
      await r.waitFor(/^echo \d+$/, 20000);
      noBroken(r.lines);
      await job.killTree(r);
    } finally {
      await job.cleanup();
    }
  });

  for (const server of ['serves', 'is gone'] as const) {
    it(`to a server outside the job that ${server} at the restart: ${server === 'serves' ? 'the new connect completes' : 'the program sees the connection refused'}`, async () => {
      const srv = execa(python, ['-u', '-c', FULL_SERVER], { buffer: false, reject: false, stdin: 'pipe' });
      const job = new Job();
      try {
        const port = await new Promise<string>((res, rej) => {
          srv.stdout!.once('data', (c: Buffer) => res(c.toString().trim()));
          void srv.then((x) => rej(new Error(`server ended: ${String(x.exitCode)}`)));
        });
        const p = job.launch([join(programs, 'sock_connecting'), port]);
        await p.waitFor(/^tick 5$/);
        await job.checkpoint();
        await p.waitFor(/^tick 10$/);
        await job.killTree(p);
        assert.ok(!p.lines.some((l) => l.startsWith('connected')), 'connected before the kill: nothing was tested');
        if (server === 'serves') srv.stdin!.write('go\n');
        else { srv.kill('SIGKILL'); await srv; }
        const r = job.restart();
        if (server === 'serves') {
          await r.waitFor(/^connected at tick \d+$/, 30000);
          await r.waitFor(/^echo \d+$/, 20000);
          noBroken(r.lines);
          await job.killTree(r);
        } else {
          await r.waitFor(/^BROKEN connect: Connection refused$/, 30000);
          await r.waitExit(20000);
        }
      } finally {
        await job.cleanup();
        srv.kill('SIGKILL');
        await srv;
      }
    });
  }
});
