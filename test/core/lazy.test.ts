// Lazy restart (the default): the program runs again before its memory is
// back; a pager process fills compressed pages on first touch and the rest
// in the background (native/restart/lazy.c). lazymem holds 256 MiB it can
// check page by page, and touches a few pages only until told to do more.
// STASIS_PAGER_DELAY_MS holds the background fill back, so that what a test
// does happens while pages are still lazy.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Job, Running, noBroken, programs, stasisBin } from '../helpers/stasis.js';

const lazymem = join(programs, 'lazymem');
const lazyLine = /(\d+) records lazy \(pager (\d+)\)/;

async function command(job: Job, p: Running, trigger: string, cmd: string, answer: RegExp): Promise<RegExpMatchArray> {
  const from = p.lines.length;
  writeFileSync(trigger, cmd);
  return p.waitFor(answer, 30000, from);
}

/** Launches lazymem, checkpoints it, kills it; returns its checksum. */
async function saved(job: Job, trigger: string): Promise<string> {
  const p = job.launch([lazymem, '256', trigger]);
  const sum = (await p.waitFor(/^ready ([0-9a-f]{16})$/))[1]!;
  await p.waitFor(/^tick 2$/);
  await job.checkpoint();
  await job.killTree(p);
  return sum;
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by whoever adopted it, does not). */
function alive(pid: number): boolean {
  try { return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

/** The loader's count of lazy records (STASIS_DEBUG line). */
async function lazyRecords(r: Running): Promise<number> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const m = r.errLines.map((l) => l.match(lazyLine)).find((x) => x);
    if (m) return Number(m[1]);
    if (Date.now() > deadline) throw new Error(`no loader line: ${r.tail()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('lazy restart', function () {
  this.timeout(120000);
  let job: Job;
  let trigger: string;
  beforeEach(() => { job = new Job(); trigger = join(job.dir, 'trigger'); });
  afterEach(async () => { await job.cleanup(); });

  it('256 MiB: runs again with pages lazy, and all memory verifies', async () => {
    const sum = await saved(job, trigger);
    const r = job.restart(undefined, { env: { STASIS_DEBUG: '1', STASIS_PAGER_DELAY_MS: '2000' } });
    await r.waitFor(/^tick \d+$/);
    assert.ok(await lazyRecords(r) > 10, r.tail());
    assert.equal((await command(job, r, trigger, 'verify', /^verified ([0-9a-f]{16})$/))[1], sum);
    noBroken(r.lines);
  });

  for (const save of ['stopped', 'forked']) {
    it(`a ${save} checkpoint while pages are lazy waits for them and restores correctly`, async () => {
      const sum = await saved(job, trigger);
      const env: Record<string, string> = { STASIS_DEBUG: '1', STASIS_PAGER_DELAY_MS: '1500' };
      if (save === 'forked') env.STASIS_SAVE = 'forked';   // the writer is a fork: it must not see holes
      const r = job.restart(undefined, { env });
      await r.waitFor(/^tick \d+$/);
      assert.ok(await lazyRecords(r) > 10, r.tail());
      await job.checkpoint();
      await job.killTree(r);
      const again = job.restart();
      assert.equal((await command(job, again, trigger, 'verify', /^verified ([0-9a-f]{16})$/))[1], sum, again.tail());
      noBroken(again.lines);
    });
  }

  it('the image file deleted right after the restart: the program completes correctly', async () => {
    const sum = await saved(job, trigger);
    const r = job.restart(undefined, { env: { STASIS_DEBUG: '1', STASIS_PAGER_DELAY_MS: '1000' } });
    await r.waitFor(/^tick \d+$/);
    assert.ok(await lazyRecords(r) > 10, r.tail());
    const gen = join(job.dir, 'gen-000001');
    for (const f of readdirSync(gen).filter((n) => n.endsWith('.img'))) rmSync(join(gen, f));
    assert.equal((await command(job, r, trigger, 'verify', /^verified ([0-9a-f]{16})$/))[1], sum);
    noBroken(r.lines);
  });

  it('fork, madvise(DONTNEED) and mremap while pages are lazy', async () => {
    const sum = await saved(job, trigger);
    const r = job.restart(undefined, { env: { STASIS_DEBUG: '1', STASIS_PAGER_DELAY_MS: '5000' } });
    await r.waitFor(/^tick \d+$/);
    assert.ok(await lazyRecords(r) > 10, r.tail());
    await command(job, r, trigger, 'discard', /^(discarded zero|BROKEN.*)$/);
    await command(job, r, trigger, 'move', /^(moved ok|BROKEN.*)$/);
    assert.equal((await command(job, r, trigger, 'fork', /^child verified ([0-9a-f]{16})$/))[1], sum, r.lines.filter((l) => !l.startsWith("tick")).join(" | "));
    assert.equal((await command(job, r, trigger, 'verify', /^verified ([0-9a-f]{16})$/))[1], sum);
    noBroken(r.lines);
  });

  // The pager is no child of the program: nothing but its pidfd ends it. One
  // left behind holds the image (and its memory) until the node reboots.
  for (const when of ['while faults are served (background fill held back)', 'while the background fills']) {
    it(`the restored process killed ${when}: its pager ends with it`, async () => {
      await saved(job, trigger);
      const held = when.includes('held back');
      const r = job.restart(undefined, { env: { STASIS_DEBUG: '1', ...(held ? { STASIS_PAGER_DELAY_MS: '8000' } : {}) } });
      await r.waitFor(/^tick \d+$/);
      await lazyRecords(r);
      const pager = Number(r.errLines.map((l) => l.match(lazyLine)).find((x) => x)![2]);
      assert.ok(alive(pager), `the pager ${pager} is not running: ${r.tail()}`);
      if (held) writeFileSync(trigger, 'verify');   // faults all over its 256 MiB, then the kill among them
      await new Promise((res) => setTimeout(res, held ? 150 : 0));
      process.kill(r.pid, 'SIGKILL');
      const until = Date.now() + 5000;
      while (alive(pager) && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
      assert.ok(!alive(pager), `the pager ${pager} outlived its process by 5 s: ${readFileSync(`/proc/${pager}/status`, 'utf8').split('\n').slice(0, 8).join('; ')}`);
    });
  }

  it('a lazy record damaged after the verification: the pager kills the process, which never reads it', async () => {
    await saved(job, trigger);
    const gen = join(job.dir, 'gen-000001');
    const image = join(gen, readdirSync(gen).find((n) => n.endsWith('.img'))!);
    // The last compressed PAGES record of the largest region, lazymem's buffer, of which the program
    // touches only the first pages.
    const buf = readFileSync(image);
    let off = 0, target = -1, largest = 0, inLargest = false;
    while (off + 40 <= buf.length) {
      const type = buf.readUInt16LE(off + 4), flags = buf.readUInt16LE(off + 6), stored = Number(buf.readBigUInt64LE(off + 16));
      let payload = off + 40;
      if (flags & 16) payload = (payload + 4095) & ~4095;
      if (type === 3) {
        const size = Number(buf.readBigUInt64LE(payload + 8) - buf.readBigUInt64LE(payload));
        inLargest = size > largest;
        if (inLargest) { largest = size; target = -1; }
      }
      if (type === 4 && (flags & 15) && inLargest) target = payload + Math.floor(stored / 2);
      off = payload + stored;
      if (type === 5) break;
    }
    assert.ok(target > 0, 'no compressed record');
    buf[target] = buf[target]! ^ 0x55;
    writeFileSync(image, buf);
    // The loader alone (no CLI verification before it), as a damaged file found only while lazy.
    const r = await execa(join(programs, '..', 'stasis-restart'), [image], { reject: false, timeout: 60000, stdin: 'ignore' });
    assert.match(r.stderr, /stasis-pager: .*payload checksum mismatch .*killing the restored process/, r.stderr);
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    assert.ok(!/^verified /m.test(r.stdout), r.stdout);
  });

  it('without userfaultfd for kernel faults (an unprivileged user here): one line, and an eager restart that verifies', async function () {
    const unprivileged = readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim() === '1';
    if (process.getuid?.() !== 0 || unprivileged) this.skip();   // needs root to become a user without it
    const dir = mkdtempSync(join(tmpdir(), 'stasis-lazy-nobody-'));
    chmodSync(dir, 0o755);
    chownSync(dir, 65534, 65534);
    const as = { uid: 65534, gid: 65534, env: { HOME: dir }, stdin: 'ignore' as const, reject: false, buffer: false };
    const ckpt = join(dir, 'ckpt'), trig = join(dir, 'trigger');
    const procs: Array<ReturnType<typeof execa>> = [];
    try {
      const launched = new Running(execa(stasisBin, ['launch', '--ckpt-dir', ckpt, '--', lazymem, '32', trig], as));
      procs.push(launched.proc);
      const sum = (await launched.waitFor(/^ready ([0-9a-f]{16})$/))[1];
      await launched.waitFor(/^tick 2$/);
      const ck = await execa(stasisBin, ['command', '--ckpt-dir', ckpt, '--checkpoint', '--json'], { ...as, buffer: true });
      assert.equal(ck.exitCode, 0, String(ck.stderr));
      await launched.kill9();
      const r = new Running(execa(stasisBin, ['restart', ckpt], as));
      procs.push(r.proc);
      await r.waitFor(/^tick \d+$/);
      assert.ok(r.errLines.some((l) => /restoring eagerly: userfaultfd is not allowed for kernel faults here/.test(l)), r.tail());
      // Owned by the program's user before it can see it: it reads and removes the trigger.
      writeFileSync(`${trig}.tmp`, 'verify');
      chownSync(`${trig}.tmp`, 65534, 65534);
      renameSync(`${trig}.tmp`, trig);
      assert.equal((await r.waitFor(/^verified ([0-9a-f]{16})$/, 30000))[1], sum);
      await r.kill9();
    } finally {
      for (const p of procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
      const coord = join(ckpt, 'coordinator.json');
      if (existsSync(coord)) { try { process.kill(JSON.parse(readFileSync(coord, 'utf8')).pid, 'SIGKILL'); } catch { /* gone */ } }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--eager fills everything before the program runs', async () => {
    const sum = await saved(job, trigger);
    const r = job.restart(undefined, { flags: ['--eager'], env: { STASIS_DEBUG: '1' } });
    await r.waitFor(/^tick \d+$/);
    assert.equal(await lazyRecords(r), 0, r.tail());
    assert.equal((await command(job, r, trigger, 'verify', /^verified ([0-9a-f]{16})$/))[1], sum);
    noBroken(r.lines);
    assert.ok(!existsSync(trigger));
  });
});
