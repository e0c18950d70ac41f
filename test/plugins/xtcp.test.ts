// TCP between two programs of one job that were launched apart (two
// `stasis launch --coord` joined to one coordinator): at restart each is
// restored by its own loader, so their connection is made again through the
// coordinator (PUBLISH/LOOKUP), not inside one loader. test/programs/xtcp_peer.c
// checks every byte it receives (lost, doubled or reordered prints BROKEN).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Job, Running, noBroken, programs } from '../helpers/stasis.js';
import { tcpTotals } from '../helpers/tcp-records.js';

const peer = join(programs, 'xtcp_peer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The port a coordinator published in D/coordinator.json. */
export async function publishedPort(dir: string, timeoutMs = 20000): Promise<number> {
  const f = join(dir, 'coordinator.json');
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
    try { return JSON.parse(readFileSync(f, 'utf8')).port as number; } catch { /* not yet */ }
  }
  throw new Error(`no ${f}`);
}

/** Until no coordinator process is left for D (the one that served it exited). */
export async function coordinatorGone(job: Job, timeoutMs = 20000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
    const pid = job.coordinatorPid();
    if (pid === null) return;
    try { process.kill(pid, 0); } catch { return; }
  }
  throw new Error('the coordinator did not exit after the last process left');
}

/** Bytes each end had read by its last progress line ("server tick N got BYTES"). */
export function lastGot(lines: string[], role: 'server' | 'client'): number {
  const re = new RegExp(`^${role} tick \\d+ got (\\d+)$`);
  for (let i = lines.length - 1; i >= 0; i--) { const m = lines[i]!.match(re); if (m) return Number(m[1]); }
  return -1;
}


/** Until both ends have read `more` bytes past what they had at `from`. */
export async function bothGoOn(out: Running[], from: { server: number; client: number }, more: number, timeoutMs = 60000): Promise<void> {
  for (const until = Date.now() + timeoutMs; ; await sleep(100)) {
    const lines = out.flatMap((r) => r.lines);
    noBroken(lines);
    const s = lastGot(lines, 'server'), c = lastGot(lines, 'client');
    if (s >= from.server + more && c >= from.client + more) return;
    if (Date.now() > until || out.every((r) => r.exited))
      throw new Error(`the streams stopped: server ${s}, client ${c} (wanted ${more} past ${from.server}, ${from.client}): ${out.map((r) => r.tail()).join(' || ')}`);
  }
}

describe('TCP between two programs of a job launched apart: checkpoint, SIGKILL, restart (two loaders) — twice', function () {
  this.timeout(180000);

  for (const [family, loopback] of [['IPv4', '127.0.0.1'], ['IPv6', '::1']] as const) {
    it(`${family}: megabytes in flight both ways: every byte arrives once and in order, and the streams go on`, async () => {
      const job = new Job();
      try {
        job.stasis(['coordinator', '--ckpt-dir', job.dir, '--port', '0', '--exit-on-last']);
        const joinFlags = ['--coord', `127.0.0.1:${await publishedPort(job.dir)}`, '--token-file', join(job.dir, 'token')];
        const server = job.launch([peer, 'server', '0', loopback], { flags: joinFlags });
        const port = (await server.waitFor(/^listening on \S+ (\d+)$/))[1]!;
        const client = job.launch([peer, 'client', loopback, port], { flags: joinFlags });
        let out: Running[] = [server, client];
        await bothGoOn(out, { server: 0, client: 0 }, 8 << 20);
        for (let round = 1; round <= 2; round++) {
          const ck = await job.checkpoint();
          assert.equal(ck.generation, round);
          const inFlight = tcpTotals(ck.dir).bytes;
          assert.ok(inFlight > 1 << 20, `only ${inFlight} bytes were in flight at checkpoint ${round}`);
          await sleep(300);
          for (const pid of await job.kernelPids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
          for (const r of out) await r.kill9();
          const lines = out.flatMap((r) => r.lines);
          noBroken(lines);
          const killedAt = { server: lastGot(lines, 'server'), client: lastGot(lines, 'client') };
          await coordinatorGone(job);
          const r = job.restart();
          out = [r];
          // Past what was in flight and what they had read when killed: the given-back bytes were read, and more.
          await bothGoOn(out, killedAt, inFlight + (4 << 20));
        }
        noBroken(out[0]!.lines);
        assert.ok(!existsSync(join(job.dir, 'gen-000003')));
      } finally {
        await job.cleanup();
      }
    });
  }
});
