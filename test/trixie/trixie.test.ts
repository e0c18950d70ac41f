// The core suite again, for programs built and run inside a Debian 13
// (trixie) chroot — glibc 2.41 against a host of glibc 2.36 — so a newer
// glibc is seen not to break the core. The Node CLI and the coordinator run
// on the host; the program runs inside the chroot (launched through the
// static `inroot`, so libstasis starts only in it) and the restart loader
// changes root into it (`stasis restart --root`). The repository (read-only),
// the temporary directory holding the checkpoint directories and programs,
// /proc and /dev are mounted into the chroot at their host paths for the
// run, and unmounted in the after hook, pass or fail.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Job, Running, repoRoot, stasisBin } from '../helpers/stasis.js';
import { coreCases, continueTwice, bigmemTwice, type Runner } from '../core/cases.js';
import { ensureChroot, Mounts, mountsUnder } from './chroot.js';

const run = join(tmpdir(), `stasis-trixie-${process.pid}`);   // visible at the same path inside
const programs = join(run, 'programs');
const inroot = join(run, 'inroot');
const needed = ['counter', 'threads', 'signals', 'layout', 'blocked', 'bigmem'];

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

let root = '';
let mounts: Mounts | null = null;
let mountIds: number[] = [];
const restarted: Running[] = [];

/** Launch in the chroot; restart with the loader changing root into it. */
const inChroot: Runner = {
  launch: (job: Job, argv: string[]) => job.launch([inroot, root, ...argv], { flags: ['--allow-static'] }),
  restart: (job: Job) => {
    const r = new Running(execa('node', [stasisBin, 'restart', '--root', root, job.dir], { stdin: 'ignore', buffer: false, reject: false }));
    restarted.push(r);
    return r;
  },
};

describe('Debian 13 chroot (newer glibc): checkpoint, SIGKILL, restart — twice', function () {
  this.timeout(120000);

  before(async function () {
    this.timeout(30 * 60 * 1000);   // the first run downloads and installs the chroot (about 2 minutes)
    const ready = ensureChroot();
    if (!ready.ok) {
      console.log(`      trixie suite SKIPPED: ${ready.reason}`);
      this.skip();
    }
    root = ready.root;
    console.log(`      chroot ${root}: glibc ${ready.glibc} (setup ${ready.seconds.toFixed(1)} s)`);
    const reaped = Mounts.reapDead(root);
    if (reaped.length) console.log(`      unmounted what a killed run left: ${reaped.join(' ')}`);
    for (const d of readdirSync(tmpdir())) {
      const pid = Number(/^stasis-trixie-(\d+)$/.exec(d)?.[1] ?? 0);
      if (pid && !alive(pid)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
    }
    mounts = new Mounts(root);
    mkdirSync(programs, { recursive: true });
    try { mounts.mount(['-t', 'proc', 'proc'], join(root, 'proc')); } catch { mounts.mount(['--bind', '/proc'], join(root, 'proc')); }
    mounts.mount(['--bind', '/dev'], join(root, 'dev'));
    const tmp = tmpdir();
    mounts.bind(tmp);
    if (!(repoRoot + '/').startsWith(tmp + '/')) mounts.bind(repoRoot, true);
    // inroot is static, built by the host; the programs by the chroot's gcc.
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', inroot, join(repoRoot, 'test', 'trixie', 'inroot.c')]);
    for (const p of needed) {
      execFileSync('chroot', [root, 'gcc', '-std=gnu11', '-O1', '-g', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE',
        '-o', join(programs, p), join(repoRoot, 'test', 'programs', `${p}.c`), '-lpthread', '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    mountIds = mounts.made.map((m) => m.id);
    const libc = execFileSync('chroot', [root, '/usr/bin/ldd', join(programs, 'counter')], { encoding: 'utf8' });
    assert.match(libc, /libc\.so\.6 => \/lib\/x86_64-linux-gnu\/libc\.so\.6/);
  });

  afterEach(async () => {
    for (const r of restarted.splice(0)) await r.kill9().catch(() => undefined);
  });

  after(() => {
    rmSync(run, { recursive: true, force: true });
    rmSync(join(tmpdir(), `stasis-layout-${process.pid}.bin`), { force: true });
    mounts?.unmountAll();
  });

  for (const c of coreCases(programs)) {
    it(c.name, () => continueTwice(c, inChroot));
  }

  it('256 MiB of memory: the checksum still matches after each restart', () => bigmemTwice(programs, 256, inChroot));

  it('restarts inside the chroot: the restored process has its root and cwd there', async () => {
    const job = new Job();
    try {
      const p = inChroot.launch(job, [join(programs, 'counter')]);
      await p.waitFor(/^count 2$/);
      // the chroot's glibc, not the host's, and libstasis from the repository
      const libs = (pid: number) => readFileSync(`/proc/${pid}/maps`, 'utf8');
      assert.match(libs(p.pid), new RegExp(`${root}/usr/lib/x86_64-linux-gnu/libc\\.so\\.6`));
      assert.match(libs(p.pid), new RegExp(`${root}${repoRoot}/native/build/libstasis\\.so`));
      await job.checkpoint();
      await p.kill9();
      const r = inChroot.restart(job);
      await r.waitFor(/^count \d+$/);
      assert.equal(readlinkSync(`/proc/${r.pid}/root`), root);
      assert.equal(readlinkSync(`/proc/${r.pid}/cwd`), root);
    } finally {
      await job.cleanup();
    }
  });

  it('stasis restart --root refuses a directory without /proc inside, naming it', async () => {
    const job = new Job();
    try {
      const p = inChroot.launch(job, [join(programs, 'counter')]);
      await p.waitFor(/^count 1$/);
      await job.checkpoint();
      await p.kill9();
      const r = await job.cli(['restart', '--root', join(run, 'nowhere'), job.dir]);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /nowhere: not a directory with \/proc mounted inside/);
    } finally {
      await job.cleanup();
    }
  });
});

describe('Debian 13 chroot: teardown', () => {
  it('leaves no mounts behind in the chroot', function () {
    if (!root) {
      console.log('      skipped: the chroot suite did not run (reason above)');
      this.skip();
    }
    assert.ok(mountIds.length >= 3, 'the suite mounted nothing');
    const left = mountsUnder(root);
    if (mounts?.othersLive()) {
      const ours = new Set(mountIds);
      assert.deepEqual(left.filter((m) => ours.has(m.id)), []);
    } else {
      assert.deepEqual(left, [], `still mounted: ${left.map((m) => m.point).join(' ')}`);
    }
  });
});
