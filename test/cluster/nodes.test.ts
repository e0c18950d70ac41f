// Each test node is its own pid and IPC namespace, so a pid or SysV id free
// on one node may be taken on another, as on real hosts. A program
// checkpointed on n1 restarts on another node where its pid (or its SysV
// segment's id) is held by another process: it must still see its old
// numbers (stasis' virtual ids), while the kernel gives it different ones.
// And a node crashes as a host does: everything on it ends at once.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cluster, crashNode, nodeInit, nodePids, onNode, repoRoot, sbatch, slurm, stasisBin, useCluster, waitFile, waitJob } from './cluster.js';

const programs = join(repoRoot, 'native', 'build', 'programs');
const pidsProgram = join(programs, 'pids');
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `stasis args` on a node in the background, output to `out`. */
async function stasisInBackground(node: string, args: string[], out: string): Promise<void> {
  const r = await onNode(node, 'sh', ['-c', `node ${q(stasisBin)} ${args.map(q).join(' ')} </dev/null >${q(out)} 2>&1 &`]);
  assert.equal(r.exitCode, 0, r.stderr);
}

async function stasisOn(node: string, args: string[]): Promise<string> {
  const r = await onNode(node, 'node', [stasisBin, ...args]);
  assert.equal(r.exitCode, 0, `stasis ${args.join(' ')} on ${node}: ${r.stderr}`);
  return r.stdout;
}

describe('the test nodes as hosts: own pids and SysV ids, crashes (test/cluster)', function () {
  this.timeout(120_000);
  useCluster();

  it('a program checkpointed on n1 restarts on n3, where its pid is taken, and still sees its own pid', async () => {
    const dir = join(cluster().shared, `pidns-${Date.now()}`);
    mkdirSync(dir);
    const ck = join(dir, 'ck');
    const out1 = join(dir, 'n1.out');
    const out3 = join(dir, 'n3.out');
    let holder = '';
    try {
      await stasisInBackground('n1', ['launch', '--ckpt-dir', ck, '--', pidsProgram], out1);
      const first = /^pids \d+ pid=(\d+) tid=(\d+)$/m.exec(await waitFile(out1, /^pids 5 /m, 30_000));
      const [pid, tid] = [first?.[1] ?? '', first?.[2] ?? ''];
      assert.match(await stasisOn('n1', ['command', '--ckpt-dir', ck, '--checkpoint']), /gen-000001/);
      await stasisOn('n1', ['command', '--ckpt-dir', ck, '--quit']);

      // On n3, a process takes that pid (ns_last_pid: the next fork gets pid).
      const take = `for i in 1 2 3 4 5; do echo $((${pid} - 1)) > /proc/sys/kernel/ns_last_pid; sleep 600 </dev/null >/dev/null 2>&1 & `
        + `if [ $! = ${pid} ]; then echo $!; exit 0; fi; kill $!; done; exit 1`;
      const held = await onNode('n3', 'sh', ['-c', take]);
      assert.equal(held.exitCode, 0, `could not take pid ${pid} on n3: ${held.stderr}`);
      holder = held.stdout.trim();

      await stasisInBackground('n3', ['restart', ck], out3);
      const text = await waitFile(out3, /^pids \d+ .*\n(.*\n){5}/m, 30_000);
      assert.doesNotMatch(text, /BROKEN/, text);
      for (const line of text.split('\n').filter((l) => l.startsWith('pids '))) {
        assert.match(line, new RegExp(`^pids \\d+ pid=${pid} tid=${tid}$`), text);
      }
      // On n3 the kernel numbers it otherwise: pid is the holder's.
      const ps = await onNode('n3', 'ps', ['-eo', 'pid=,args=']);
      const real = ps.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[1] === pidsProgram)?.[0];
      assert.ok(real, `no ${pidsProgram} on n3:\n${ps.stdout}`);
      assert.notEqual(real, pid);
      assert.match(ps.stdout, new RegExp(`^\\s*${pid} sleep 600$`, 'm'));
      console.log(`      (pid ${pid} on n1; on n3 pid ${pid} is a sleep and the restored program runs as ${real}, seeing ${pid})`);
    } finally {
      // Whichever job still runs (down.sh would kill it anyway).
      for (const n of ['n1', 'n3']) await onNode(n, 'node', [stasisBin, 'command', '--ckpt-dir', ck, '--quit']);
      if (holder) await onNode('n3', 'kill', [holder]);
    }
  });

  it('a SysV segment made on n1 comes back on n2, where its id is taken by another segment, and the program keeps its id', async () => {
    const dir = join(cluster().shared, `sysv-${Date.now()}`);
    mkdirSync(dir);
    const ck = join(dir, 'ck');
    const out1 = join(dir, 'n1.out');
    const out2 = join(dir, 'n2.out');
    let taken = '';
    try {
      // shm_sysv checks every 200 counts that its id still names its segment
      // (size, 3 attachments, a second shmat sees the same counters).
      await stasisInBackground('n1', ['launch', '--ckpt-dir', ck, '--', join(programs, 'shm_sysv')], out1);
      const id = /^id (\d+)$/m.exec(await waitFile(out1, /^seen 0 /m, 30_000))?.[1] ?? '';
      assert.match(await stasisOn('n1', ['command', '--ckpt-dir', ck, '--checkpoint']), /gen-000001/);
      await stasisOn('n1', ['command', '--ckpt-dir', ck, '--quit']);

      // n2's IPC namespace is as fresh as n1's was: its first segment gets the same id.
      const mk = await onNode('n2', 'ipcmk', ['-M', '4096']);
      taken = /Shared memory id: (\d+)/.exec(mk.stdout)?.[1] ?? '';
      assert.equal(taken, id, `ipcmk on n2: ${mk.stdout} ${mk.stderr}`);

      await stasisInBackground('n2', ['restart', ck], out2);
      const text = await waitFile(out2, /^(seen .*\n){9}/m, 30_000);
      assert.doesNotMatch(text, /BROKEN/, text);
      // The restored segment is another one on n2; the other segment is untouched.
      const ipcs = await onNode('n2', 'ipcs', ['-m']);
      const segs = ipcs.stdout.split('\n').filter((l) => /^0x/.test(l)).map((l) => l.trim().split(/\s+/));
      assert.equal(segs.length, 2, ipcs.stdout);
      const mine = segs.find((f) => f[1] !== id);
      assert.equal(mine?.[4], String(3 * 4096), ipcs.stdout);
      assert.equal(segs.find((f) => f[1] === id)?.[4], '4096', ipcs.stdout);
      console.log(`      (segment id ${id} on n1; on n2 id ${id} is another segment and the restored one is ${mine?.[1]})`);
    } finally {
      for (const n of ['n1', 'n2']) await onNode(n, 'node', [stasisBin, 'command', '--ckpt-dir', ck, '--quit']);
      if (taken) await onNode('n2', 'ipcrm', ['-m', taken]);
    }
  });

  it('crashNode: SIGKILL to n4\'s init ends every process on n4 (daemons, an ssh-started process, a job step) at once', async () => {
    const c = cluster();
    const ssh = ['-F', join(c.dir, 'ssh', 'config'), 'n4'];
    const bg = await execa('ssh', [...ssh, 'sleep 611 </dev/null >/dev/null 2>&1 & echo $!'], { reject: false });
    assert.match(bg.stdout.trim(), /^\d+$/, bg.stderr);
    const job = await sbatch('#!/bin/sh\nsleep 612\n', ['-w', 'n4'], 'crash');
    try {
      await waitJob(job, 'RUNNING');
      let onN4 = nodePids('n4');
      for (let i = 0; i < 50 && ![...onN4.values()].some((p) => /^sleep 612/.test(cmdline(p))); i++) {
        await new Promise((r) => setTimeout(r, 100));
        onN4 = nodePids('n4');
      }
      const names = [...onN4.values()].map(cmdline);
      for (const want of [/node_init/, /^\/usr\/sbin\/slurmd /, /^sshd: /, /^sleep 611$/, /^slurmstepd/, /^sleep 612$/]) {
        assert.ok(names.some((n) => want.test(n)), `no ${want} on n4: ${names.join(' | ')}`);
      }
      assert.equal(onN4.get(1), nodeInit('n4'));
      await crashNode('n4');
      for (const p of onN4.values()) assert.ok(!existsSync(`/proc/${p}`), `pid ${p} (${names.join(' | ')}) outlived n4`);
      const after = await execa('ssh', [...ssh, 'true'], { reject: false });
      assert.equal(after.exitCode, 255, 'ssh n4 still answers');
      // The other nodes go on.
      assert.equal((await onNode('n3', 'hostname')).stdout.trim(), 'n3');
    } finally {
      await slurm('scancel', [job]);
    }
  });
});

function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { return ''; }
}
