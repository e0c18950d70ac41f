// A process started "on another host" without a cluster: in a pid namespace
// of its own (its pids collide with every other such host's: the first
// program is pid 2) and a UTS namespace named `host`. Needs root.
import { execa } from 'execa';
import { Running, stasisBin } from '../helpers/stasis.js';

/** Why this machine cannot make such hosts, or null. */
export async function whyNoFakeHosts(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'needs root (pid and UTS namespaces)';
  const r = await execa('unshare', ['--pid', '--fork', '--uts', '--mount-proc', 'true'], { reject: false });
  return r.exitCode === 0 ? null : `unshare --pid --uts failed: ${r.stderr}`;
}

/**
 * `stasis launch --coord ADDR --token-file DIR/token -- argv` as pid 2 of a
 * new pid namespace on host `host`. The namespace ends (every process in
 * it killed) when its pid 1, the shell, ends.
 */
export function launchAsHost(host: string, coord: string, dir: string, argv: string[]): Running {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const launch = ['node', stasisBin, 'launch', '--coord', coord, '--token-file', `${dir}/token`, '--ckpt-dir', dir, '--', ...argv].map(q).join(' ');
  return new Running(execa('unshare', ['--pid', '--fork', '--kill-child', '--uts', '--mount-proc', 'sh', '-c',
    `hostname ${q(host)} && ${launch} & wait $!`], { buffer: false, reject: false, stdin: 'ignore' }));
}
