// UDP sockets on one host (test/programs/sock_udp.c): a stream of numbered
// datagrams between a parent and its forked child, with many queued, and a
// ping-pong, checkpointed mid-run, killed with SIGKILL and restarted —
// twice: the program checks that no datagram is lost, doubled or cut
// (BROKEN otherwise), the side files show the datagrams that were queued.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, Running, numbers, programs, noBroken } from '../helpers/stasis.js';
import { checkpointKillRestart } from '../helpers/cycle.js';

const python = '/usr/bin/python3';

/** The records of every X.img.udp file of a generation (docs/image-format.md). */
type UdpRecord = { ino: string; laddr: string; lport: number; connected: boolean; copied: boolean; queued: number };
function udpRecords(dir: string): UdpRecord[] {
  const out: UdpRecord[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.udp'))) {
    const buf = readFileSync(join(dir, f));
    let at = 0;
    const line = () => { const nl = buf.indexOf(10, at); const s = buf.toString('latin1', at, nl); at = nl + 1; return s; };
    while (at < buf.length && !buf.toString('latin1', at, at + 4).startsWith('end ')) {
      const head = line();
      const m = head.match(/^udp (\d+) (\d+) \d+ (\S+) (\d+) (\S+) (\d+) -?\d+ [01] [01] ([01]) (\d+)$/);
      assert.ok(m, `${f}: malformed record '${head}'`);
      for (let k = 0; k < Number(m[8]); k++) {
        const d = line().match(/^\S+ \d+ \S+ \d+ (\d+)$/);
        assert.ok(d, `${f}: malformed datagram record`);
        at += Number(d[1]);
      }
      out.push({ ino: m[2]!, laddr: m[3]!, lport: Number(m[4]), connected: m[6] !== '0', copied: m[7] === '1', queued: Number(m[8]) });
    }
  }
  return out;
}

describe('UDP between a parent and its child: checkpoint mid-stream, SIGKILL, restart — twice', function () {
  this.timeout(120000);
  for (const [family, shared] of [['4', ''], ['6', ''], ['4', 'shared']] as const) {
    const also = shared ? ' (the ping-pong socket held by both processes: copied and restored once)' : '';
    it(`IPv${family}: no datagram lost or doubled (stream with many queued, ping-pong from a socket the kernel bound), options and O_NONBLOCK kept, an unbound socket stays unbound${also}`, async () => {
      const job = new Job();
      const progress = /^tick (\d+) /;
      try {
        let p: Running = job.launch([join(programs, 'sock_udp'), family, ...(shared ? [shared] : [])]);
        let queued = 0;
        for (let round = 1; round <= 2; round++) {
          await p.waitFor(/^pong \d+$/, 20000);
          const r = await checkpointKillRestart(job, p, { progress }, round, 10);   // 1 s on after the checkpoint: nothing was taken out
          const recs = udpRecords(join(job.dir, `gen-00000${round}`));
          assert.equal(recs.length, shared ? 5 : 4, `not every bound socket recorded: ${JSON.stringify(recs)}`);
          for (const ino of new Set(recs.map((x) => x.ino))) {
            assert.equal(recs.filter((x) => x.ino === ino && x.copied).length, 1, `socket ${ino}: its queue not copied by exactly one holder`);
          }
          assert.equal(recs.filter((x) => x.connected).length, 2);
          queued += recs.reduce((a, x) => a + x.queued, 0);
          const got = numbers(r.lines, /^tick \d+ got (\d+)$/);
          await r.waitFor(new RegExp(`^tick \\d+ got (?!${got.at(-1)}$)\\d+$`), 20000, r.lines.length);   // the stream goes on
          const pongs = numbers(p.lines, /^pong (\d+)$/).at(-1) ?? 0;
          await r.waitFor(new RegExp(`^pong ${pongs + 2}$`), 20000);   // and the ping-pong
          p = r;
        }
        assert.ok(queued >= 20, `only ${queued} datagrams were queued at the two checkpoints`);
        noBroken(p.lines);
        await job.killTree(p);
      } finally {
        await job.cleanup();
      }
    });
  }

  it('a bound socket whose port another program took meanwhile: the restart stops with one line naming the port and the process', async () => {
    const job = new Job();
    let squatter: ReturnType<typeof execa> | null = null;
    try {
      const p = job.launch([join(programs, 'sock_udp'), '4']);
      await p.waitFor(/^tick 5 /);
      await job.checkpoint();
      await job.killTree(p);
      const rec = udpRecords(join(job.dir, 'gen-000001')).find((x) => !x.connected)!;
      squatter = execa(python, ['-u', '-c',
        `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',${rec.lport}))\nprint('bound',flush=True)\ntime.sleep(600)`],
      { buffer: false, reject: false });
      await new Promise<void>((res, rej) => {
        squatter!.stdout!.once('data', () => res());
        void squatter!.then((x) => rej(new Error(`the squatter ended: ${String(x.exitCode)}`)));
      });
      const r = job.restart();
      const code = await r.waitExit(30000);
      assert.notEqual(code, 0);
      const line = r.errLines.find((l) => l.includes('cannot bind a UDP socket'));
      assert.ok(line, `no message about the port: ${r.tail()}`);
      assert.match(line, new RegExp(`sock_udp-[^ ]*-${p.pid}\\.img: cannot bind a UDP socket to 127\\.0\\.0\\.1 port ${rec.lport} again \\(fd \\d+ of that process\\): Address already in use`));
      assert.ok(!r.lines.some((l) => /^tick /.test(l)), 'the job ran on without its socket');
    } finally {
      squatter?.kill('SIGKILL');
      await squatter?.catch(() => undefined);
      await job.cleanup();
    }
  });

  it('25 checkpoints in a row while streaming (nothing taken out of the queues), then a restart: nothing lost or doubled', async () => {
    const job = new Job();
    try {
      const p = job.launch([join(programs, 'sock_udp'), '4']);
      await p.waitFor(/^pong 1$/, 20000);
      for (let g = 1; g <= 25; g++) await job.checkpoint();
      const got = numbers(p.lines, /^tick \d+ got (\d+)$/).at(-1)!;
      await p.waitFor(new RegExp(`^tick \\d+ got (?!${got}$)\\d+$`), 20000, p.lines.length);
      noBroken(p.lines);
      await job.killTree(p);
      const r = job.restart();
      await r.waitFor(/^tick \d+ /, 20000);
      const pongs = numbers(p.lines, /^pong (\d+)$/).at(-1)!;
      await r.waitFor(new RegExp(`^pong ${pongs + 1}$`), 20000);
      noBroken(r.lines);
      await job.killTree(r);
    } finally {
      await job.cleanup();
    }
  });
});

// A UDP echo server in the job (python), bound to a port of its choosing.
const UDP_ECHO = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
print('port', s.getsockname()[1], flush=True)
n = 0
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
    n += 1
    if n % 10 == 0: print('served', n // 10, flush=True)
`;

describe('a UDP server in the job and a client outside it', function () {
  this.timeout(120000);
  it('after each restart the server is at its port again: the client\'s datagrams reach it and the answers come back', async () => {
    const dgram = await import('node:dgram');
    const client = dgram.createSocket('udp4');
    const answers: number[] = [];
    client.on('message', (m) => answers.push(Number(m.toString())));
    await new Promise<void>((res) => client.bind(0, '127.0.0.1', () => res()));
    const job = new Job();
    let timer: NodeJS.Timeout | undefined;
    try {
      let p: Running = job.launch([python, '-u', '-c', UDP_ECHO]);
      const port = Number((await p.waitFor(/^port (\d+)$/))[1]);
      let sent = 0;
      timer = setInterval(() => client.send(String(sent++), port, '127.0.0.1'), 20);
      // The job runs on after the checkpoint until it is killed: what it answered meanwhile of what it had
      // received (queued, or being answered) at the checkpoint, the restored server answers again. Nothing else.
      const replayable = new Set<number>();
      for (let round = 1; round <= 2; round++) {
        await p.waitFor(/^served \d+$/, 20000, p.lines.length);
        const answered = new Set(answers);
        await job.checkpoint();
        for (let v = 0; v < sent; v++) if (!answered.has(v)) replayable.add(v);
        await job.killTree(p);
        p = job.restart();
        const before = answers.length;
        await p.waitFor(/^served \d+$/, 20000);
        while (answers.length < before + 20) await new Promise((r) => setTimeout(r, 50));
      }
      const seen = new Map<number, number>();
      for (const v of answers) seen.set(v, (seen.get(v) ?? 0) + 1);
      const twice = [...seen].filter(([, n]) => n > 1);
      assert.deepEqual(twice.filter(([v, n]) => n > 2 || !replayable.has(v)), [],
        `answered more than once, not received before a checkpoint: ${JSON.stringify(twice)}`);
      await job.killTree(p);
    } finally {
      if (timer) clearInterval(timer);
      client.close();
      await job.cleanup();
    }
  });
});
