// Sockets inside one host, one self-checking program per kind
// (test/programs/sock_*.c): checkpointed mid-transfer, killed with SIGKILL,
// restarted — twice — each program checks every byte it receives against
// the stream it expects (lost, doubled or reordered bytes print BROKEN),
// and the side files show that megabytes were in flight.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Running, numbers, programs, noBroken, repoRoot } from '../helpers/stasis.js';
import { checkpointKillRestart, ticksOn } from '../helpers/cycle.js';
import { tcpRecords } from '../helpers/tcp-records.js';

// The system's python, not a version manager's shim (a shell script that
// runs helpers under stasis before it gets to python).
const python = '/usr/bin/python3';

/** The records of every X.img.unix file of a generation (docs/image-format.md). */
function unixRecords(dir: string): { type: number; bytes: number; nmsg: number; largest: number; bound: boolean }[] {
  const out: { type: number; bytes: number; nmsg: number; largest: number; bound: boolean }[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.unix'))) {
    const buf = readFileSync(join(dir, f));
    let at = 0;
    const line = () => { const nl = buf.indexOf(10, at); const s = buf.toString('latin1', at, nl); at = nl + 1; return s; };
    while (at < buf.length && !buf.toString('latin1', at, at + 4).startsWith('end ')) {
      const head = line();
      const listen = head.match(/^unixlisten \d+ \d+ -?\d+ \d+ (\d+)$/);
      if (listen) { at += Number(listen[1]); continue; }
      const bound = head.match(/^unixbound (\d+) \d+ \d+ (\d+) (\d+)$/);
      if (bound) at += Number(bound[2]);
      const m = bound ? [head, bound[1], '', '', '', bound[3]] : head.match(/^unix (\d+) (\d+) (\d+) (\d+) (\d+)$/);
      assert.ok(m, `${f}: malformed record '${head}'`);
      let bytes = 0, largest = 0;
      for (let k = 0; k < Number(m[5]); k++) { const len = Number(line()); bytes += len; at += len; largest = Math.max(largest, len); }
      out.push({ type: Number(m[1]), bytes, nmsg: Number(m[5]), largest, bound: !!bound });
    }
  }
  return out;
}


describe('UNIX sockets: checkpoint mid-transfer, SIGKILL, restart — twice', function () {
  this.timeout(120000);

  const cases = [
    {
      name: 'stream socketpairs (parent and forked child both ways, two threads, one shut down): every byte once and in order, flags, options, EOF',
      program: 'sock_stream', types: [1], minBytes: 2 << 20, minMessages: 0,
    },
    {
      name: 'datagram (parent and child) and seqpacket (two threads) socketpairs: no message lost, doubled, merged or cut',
      program: 'sock_dgram', types: [2, 5], minBytes: 256 << 10, minMessages: 100, largerThanAPeek: true,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, c.program)]);
        for (let round = 1; round <= 2; round++) {
          const r = await checkpointKillRestart(job, p, { progress }, round, 10);   // 1 s on after the checkpoint: what was drained is given back
          const recs = unixRecords(join(job.dir, `gen-00000${round}`));
          for (const t of c.types) assert.ok(recs.some((x) => x.type === t), `no socket of type ${t} recorded`);
          const bytes = recs.reduce((a, b) => a + b.bytes, 0), messages = recs.reduce((a, b) => a + b.nmsg, 0);
          assert.ok(bytes > c.minBytes, `only ${bytes} bytes were in flight at checkpoint ${round}`);
          assert.ok(messages >= c.minMessages, `only ${messages} messages were in flight at checkpoint ${round}`);
          if ('largerThanAPeek' in c) assert.ok(recs.some((x) => x.largest > 65536), 'no message larger than one peek was in flight');
          await r.waitFor(/^child got \d+$/, 20000);   // the child receives on after the restart
          p = r;
        }
        await ticksOn(p, progress);
        await job.killTree(p);
      } finally {
        await job.cleanup();
      }
    });
  }
});

describe('a UNIX datagram server bound to a name, never connected (UCX\'s shared-memory signalling)', function () {
  this.timeout(120000);
  for (const where of ['abstract', 'path'] as const) {
    it(`at ${where === 'abstract' ? 'an abstract name' : 'a path'}: clients by sendto() and by a connected socket lose and repeat no datagram across two C/R`, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, 'sock_dgram_server'), where === 'abstract' ? 'abstract' : join(job.dir, 'server.sock')]);
        for (let round = 1; round <= 2; round++) {
          const r = await checkpointKillRestart(job, p, { progress }, round, 5);
          const recs = unixRecords(join(job.dir, `gen-00000${round}`)).filter((x) => x.bound);
          assert.equal(recs.length, 1, 'the bound socket was not recorded once');
          assert.ok(recs[0]!.nmsg >= 5, `only ${recs[0]!.nmsg} datagrams were queued at checkpoint ${round}`);
          const got = (lines: string[]) => lines.map((l) => l.match(/^tick \d+ got (\d+) (\d+)$/)).filter((m) => m).map((m) => [Number(m![1]), Number(m![2])]);
          const before = got(r.lines).at(-1)!;
          await r.waitFor(progress, 20000, r.lines.length);
          await r.waitFor(progress, 20000, r.lines.length);
          const after = got(r.lines).at(-1)!;
          assert.ok(after[0]! > before[0]! && after[1]! > before[1]!, `the clients stopped getting through: ${before} then ${after}`);
          p = r;
        }
        noBroken(p.lines);
        await job.killTree(p);
      } finally {
        await job.cleanup();
      }
    });
  }
});

describe('UNIX sockets held by three processes (after fork), with data queued', function () {
  this.timeout(120000);
  it('a bound datagram socket, a stream and a seqpacket socketpair: one holder copies each queue; after the restart every datagram, byte and message is there once', async () => {
    const job = new Job();
    try {
      const go = join(job.dir, 'go');
      const p = job.launch([join(programs, 'sock_shared_unix'), join(job.dir, 'server.sock'), go]);
      await p.waitFor(/^tick 3$/);
      const ck = await job.checkpoint();
      const recs = unixRecords(ck.dir);
      // Each of the 5 sockets is recorded by its 3 holders, its queue by one.
      assert.equal(recs.length, 15, `records: ${JSON.stringify(recs)}`);
      const copied = recs.filter((r) => r.nmsg > 0);
      assert.deepEqual(copied.map((r) => [r.type, r.nmsg, r.bytes]).sort(),
        [[1, 1, 100000], [1, 1, 50000], [2, 8, 2800 + 8 * 8], [5, 20, 150 * 190 + 10 * 12 + 10 * 13]].sort(), 'each queue copied once, whole');
      await job.killTree(p);
      const r = job.restart();
      await r.waitFor(/^tick \d+$/, 20000);
      writeFileSync(go, '');
      await r.waitFor(/^read /, 20000);
      noBroken(r.lines);
      assert.ok(r.lines.includes('read dgram 8 stream 100000 50000 seqpacket 20'), r.tail());
      await job.killTree(r);
    } finally {
      await job.cleanup();
    }
  });
});

describe('a real program: Python\'s http.server and an urllib client in one process', function () {
  this.timeout(120000);
  it('answers every request after two restarts: listener, server threads, client connections', async function () {
    if (!existsSync(python)) this.skip();
    const job = new Job();
    const progress = /^tick (\d+)$/;
    try {
      let p: Running = job.launch([python, join(repoRoot, 'test', 'programs', 'http_loop.py')]);
      for (let round = 1; round <= 2; round++) p = await checkpointKillRestart(job, p, { progress }, round, 5);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});

describe('a socketpair as a child\'s stdin and stdout', function () {
  this.timeout(120000);
  it('is the job\'s own, not the restarter\'s: `cat` on it echoes every line in flight, once and in order, after two restarts', async () => {
    const job = new Job();
    const progress = /^tick (\d+) /;
    try {
      let p: Running = job.launch([join(programs, 'sock_stdio')]);
      for (let round = 1; round <= 2; round++) {
        p = await checkpointKillRestart(job, p, { progress }, round, 5);
        const recs = unixRecords(join(job.dir, `gen-00000${round}`));
        assert.ok(recs.reduce((a, x) => a + x.bytes, 0) >= 5000, 'the lines in flight were not recorded');
      }
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });
});

describe('a UNIX stream server in the job and its clients: checkpoint, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  const path = join(tmpdir(), `stasis-sock-${process.pid}.sock`);
  for (const name of [path, `@stasis-sock-${process.pid}`]) {
    const kind = name.startsWith('@') ? 'an abstract name' : 'a path';
    it(`listening at ${kind}: a client connected across the checkpoint goes on, new clients connect after the restart`, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, 'sock_unix_server'), name]);
        for (let round = 1; round <= 2; round++) {
          await p.waitFor(/^long \d+$/, 20000);
          const r = await checkpointKillRestart(job, p, { progress }, round, 10);
          const side = readdirSync(join(job.dir, `gen-00000${round}`)).filter((f) => f.endsWith('.unix'))
            .map((f) => readFileSync(join(job.dir, `gen-00000${round}`, f), 'latin1')).join('');
          assert.match(side, /^unixlisten 1 \d+ 8 3 \d+$/m, 'no listener recorded');
          const lastLong = numbers(p.lines, /^long (\d+)$/).at(-1)!;
          await r.waitFor(new RegExp(`^long ${lastLong + 10}$`), 20000);   // the same connection goes on
          const lastClient = numbers(p.lines, /^client (\d+) ok$/).at(-1) ?? 0;
          await r.waitFor(new RegExp(`^client ${lastClient + 2} ok$`), 20000);   // new clients connect at the name
          p = r;
        }
        noBroken(p.lines);
        await job.killTree(p);
      } finally {
        await job.cleanup();
        rmSync(path, { force: true });
      }
    });
  }
});

describe('TCP over loopback, both ends in the job: checkpoint mid-transfer, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  for (const [family, shared] of [['4', ''], ['6', ''], ['4', 'shared']] as const) {
    const also = shared ? ' (the server\'s end and listener held by a second, idle process too)' : '';
    it(`IPv${family}: a connection with megabytes in flight both ways, a listener at its port, clients connected across the checkpoint and after${also}`, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, 'sock_tcp'), family, ...(shared ? [shared] : [])]);
        for (let round = 1; round <= 2; round++) {
          const r = await checkpointKillRestart(job, p, { progress }, round, 10);   // 1 s on after the checkpoint: what was drained is given back
          const recs = tcpRecords(join(job.dir, `gen-00000${round}`));
          assert.ok(recs.some((x) => x.listen), 'no listener recorded');
          const bytes = recs.reduce((a, b) => a + b.bytes, 0);
          assert.ok(bytes > 2 << 20, `only ${bytes} bytes were in flight at checkpoint ${round}`);
          await r.waitFor(/^child got \d+$/, 20000);    // the streaming child reads on
          const lastClient = numbers(p.lines, /^client (\d+) ok$/).at(-1) ?? 0;
          await r.waitFor(new RegExp(`^client ${lastClient + 2} ok$`), 20000);   // new clients connect to the same port
          p = r;
        }
        await ticksOn(p, progress);
        await job.killTree(p);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('25 checkpoints in a row while streaming (drained and given back each time), then a restart: nothing lost, nothing grows', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'sock_tcp'), '4']);
      await p.waitFor(/^child got \d+$/, 20000);
      const sizes: number[] = [];
      for (let g = 1; g <= 25; g++) sizes.push((await job.checkpoint()).bytes);
      await ticksOn(p, /^tick (\d+) /);
      // The images hold what is in flight (a few MB) and no more each time: nothing kept from one checkpoint to the next.
      assert.ok(Math.max(...sizes.slice(5)) < 2 * Math.max(...sizes.slice(0, 5)), `image sizes grew: ${sizes.join(' ')}`);
      await job.killTree(p);
      const r = job.restart();
      const last = numbers(p.lines, /^child got (\d+)$/).at(-1)!;
      await r.waitFor(/^child got \d+$/, 20000);
      await r.waitFor(/^tick \d+ /, 20000);
      assert.ok(numbers(r.lines, /^child got (\d+)$/)[0]! > 0 && last > 0);
      noBroken(r.lines);
      await job.killTree(r);
    } finally {
      await job.cleanup();
    }
  });

  it('a checkpoint that fails after the connections were drained (a UDP-Lite socket in the job) gives every byte back: the streams go on unbroken', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'sock_tcp'), '4', 'udplite']);
      await p.waitFor(/^child got \d+$/, 20000);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const err = await job.checkpoint().then(() => null, (e: Error) => e.message);
        assert.match(err ?? 'committed', /is a UDP-Lite socket \(IPv4\): not supported yet/);
        const ticks = numbers(p.lines, /^tick (\d+) /).at(-1)!;
        const childGot = numbers(p.lines, /^child got (\d+)$/).at(-1)!;
        await p.waitFor(new RegExp(`^tick ${ticks + 20} `), 20000);
        await p.waitFor(new RegExp(`^child got (?!${childGot}$)\\d+$`), 20000, p.lines.length - 25);
      }
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('a half-closed connection (the client shut down writing after 300000 bytes): the server reads them, then EOF; the other way goes on; twice', async () => {
    const job = new Job();
    const progress = /^tick (\d+) /;
    try {
      let p: Running = job.launch([join(programs, 'sock_tcp_half')]);
      for (let round = 1; round <= 2; round++) {
        p = await checkpointKillRestart(job, p, { progress }, round, 10);
        await p.waitFor(/^child got \d+$/, 20000);
      }
      await p.waitFor(/^eof after 300000$/, 60000);
      const ticks = numbers(p.lines, progress).at(-1)!;
      await p.waitFor(new RegExp(`^tick ${ticks + 5} `), 20000);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  it('a listener whose port another program took meanwhile: the restart stops with one line naming the port and the process', async () => {
    const job = new Job();
    let squatter: ReturnType<typeof execa> | null = null;
    try {
      const p = job.launch([join(programs, 'sock_tcp'), '4']);
      const port = (await p.waitFor(/^listening on port (\d+)$/))[1]!;
      await p.waitFor(/^tick 5 /);
      await job.checkpoint();
      await job.killTree(p);
      squatter = execa(python, ['-u', '-c',
        `import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('127.0.0.1',${port}))\ns.listen()\nprint('bound',flush=True)\ntime.sleep(600)`],
      { buffer: false, reject: false });
      await new Promise<void>((res, rej) => {
        squatter!.stdout!.once('data', () => res());
        void squatter!.then((x) => rej(new Error(`the squatter ended: ${String(x.exitCode)}`)));
      });
      const r = job.restart();
      const code = await r.waitExit(30000);
      assert.notEqual(code, 0);
      const line = r.errLines.find((l) => l.includes('cannot listen'));
      assert.ok(line, `no message about the port: ${r.tail()}`);
      assert.match(line, new RegExp(`sock_tcp-[^ ]*-${p.pid}\\.img: cannot listen on 127\\.0\\.0\\.1 port ${port} again \\(fd 3 of that process\\): Address already in use`));
      assert.ok(!r.lines.some((l) => /^tick /.test(l)), 'the job ran on without its listener');
    } finally {
      squatter?.kill('SIGKILL');
      await squatter?.catch(() => undefined);
      await job.cleanup();
    }
  });
});

// A line-echo server outside the job (python), on a port of its choosing.
const ECHO_SERVER = `
import socketserver
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
            self.wfile.flush()
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
s = Server(('127.0.0.1', 0), Echo)
print(s.server_address[1], flush=True)
s.serve_forever()
`;

describe('a job killed by its coordinator (stasis command --kill)', function () {
  this.timeout(60000);
  it('leaves no TCP port in TIME_WAIT: a listener without SO_REUSEADDR listens again at once on restart', async () => {
    // Connections closed with FIN hold their ports for a minute; a program
    // that did not set SO_REUSEADDR (UCX in MPICH ranks) could not listen
    // there again: the loader would wait (or fail) until then.
    const job = new Job();
    try {
      const p = job.launch([python, join(repoRoot, 'test', 'programs', 'tcp_noreuse.py')]);
      const port = Number((await p.waitFor(/^port (\d+)$/))[1]);
      await p.waitFor(/^tick 5$/);
      await job.checkpoint();
      const k = await job.cli(['command', '--ckpt-dir', job.dir, '--kill']);
      assert.equal(k.exitCode, 0, k.stderr);
      await p.waitExit();
      const ss = await execa('ss', ['-tanH', 'state', 'time-wait'], { reject: false });
      const held = String(ss.stdout).split('\n').filter((l) => l.includes(`:${port} `) || l.endsWith(`:${port}`));
      assert.deepEqual(held, [], `port ${port} left in TIME_WAIT`);
      const r = job.restart();
      const last = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
      await r.waitFor(new RegExp(`^tick ${last + 5}$`), 20000);
      noBroken(r.lines);
      await r.kill9();
    } finally { await job.cleanup(); }
  });
});

describe('a listener whose port a closed connection holds (TIME_WAIT) since before the first checkpoint', function () {
  this.timeout(60000);
  it('listens again at once on restart: its connections had SO_REUSEADDR from listen() on', async () => {
    // Open MPI's tcp btl drops one of two simultaneous connections between a
    // pair of ranks: its listener's side closes first and the port stays in
    // TIME_WAIT for a minute. Such a socket had the flag only if the
    // listener had it when accepting; before the first RESUME it had not.
    const job = new Job();
    try {
      const p = job.launch([python, join(repoRoot, 'test', 'programs', 'tcp_noreuse.py'), 'churn']);
      const port = Number((await p.waitFor(/^port (\d+)$/))[1]);
      await p.waitFor(/^tick 3$/);
      const ss = await execa('ss', ['-tanH', 'state', 'time-wait', `sport = :${port}`], { reject: false });
      assert.notEqual(String(ss.stdout).trim(), '', `no TIME_WAIT on port ${port}: the test does not test`);
      await job.checkpoint();
      await p.kill9();
      const r = job.restart();
      const last = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
      await r.waitFor(new RegExp(`^tick ${last + 3}$`), 20000);
      assert.ok(!r.lines.some((l) => /TIME_WAIT/.test(l)), r.tail());
      noBroken(r.lines);
      await r.kill9();
    } finally { await job.cleanup(); }
  });
});

describe('a TCP connection to a server outside the job', function () {
  this.timeout(120000);
  it('after each restart its peer has gone away (EOF or reset): the client connects again by itself and goes on', async () => {
    const server = execa(python, ['-u', '-c', ECHO_SERVER], { buffer: false, reject: false });
    const job = new Job();
    try {
      const port = await new Promise<string>((res, rej) => {
        server.stdout!.once('data', (c: Buffer) => res(c.toString().trim()));
        void server.then((r) => rej(new Error(`echo server ended: ${String(r.exitCode)}`)));
      });
      let p: Running = job.launch([join(programs, 'sock_reconnect'), port]);
      for (let round = 1; round <= 2; round++) {
        const r = await checkpointKillRestart(job, p, { progress: /^reply (\d+)$/ }, round, 10);
        assert.match(r.lines.find((l) => l.startsWith('peer gone')) ?? '', /^peer gone: (EOF|Connection reset by peer|Broken pipe)$/);
        assert.ok(r.lines.includes('reconnected'), `no reconnection: ${r.tail()}`);
        p = r;
      }
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
      server.kill('SIGKILL');
      await server;
    }
  });
});

describe('other sockets', function () {
  this.timeout(120000);

  it('a netlink socket comes back as a new socket of the same protocol, which answers as before', async () => {
    const job = new Job();
    const progress = /^tick (\d+) /;
    try {
      let p: Running = job.launch([join(programs, 'sock_netlink')]);
      for (let round = 1; round <= 2; round++) p = await checkpointKillRestart(job, p, { progress }, round, 5);
      noBroken(p.lines);
      await job.killTree(p);
    } finally {
      await job.cleanup();
    }
  });

  const refused = [
    { mode: 'udplite', message: /process (\d+) \(unsupported\).*fd (\d+) \(socket:\[\d+\]\) is a UDP-Lite socket \(IPv4\): not supported yet/ },
    { mode: 'scm_rights', message: /process (\d+) \(unsupported\).*fd (\d+) \(socket:\[\d+\]\) is a UNIX socket with descriptors in flight \(SCM_RIGHTS\) not yet received: not supported/ },
  ];
  for (const u of refused) {
    it(`${u.mode}: the checkpoint fails naming the process and the descriptor; the program runs on`, async () => {
      const job = new Job();
      try {
        const p = job.launch([join(programs, 'unsupported'), u.mode]);
        const held = await p.waitFor(/^holding fd (\d+)/);
        await p.waitFor(/^tick 2$/);
        const err = await job.checkpoint().then(() => null, (e: Error) => e.message);
        assert.ok(err, 'the checkpoint succeeded');
        const m = err.match(u.message);
        assert.ok(m, `unexpected message: ${err}`);
        assert.equal(Number(m[1]), p.pid);
        assert.equal(m[2], held[1]);
        const seen = numbers(p.lines, /^tick (\d+)$/).at(-1)!;
        await p.waitFor(new RegExp(`^tick ${seen + 3}$`));
        assert.ok(!existsSync(join(job.dir, 'latest')), 'a generation was committed');
        await job.killTree(p);
      } finally {
        await job.cleanup();
      }
    });
  }
});
