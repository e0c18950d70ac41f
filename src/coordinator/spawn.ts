// A private coordinator for one launch or restart: started detached, it
// answers READY (or ERROR) on a pipe and then lives on its own, exiting when
// its processes are gone (or its owner died before any connected).
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../native.js';
import type { CoordAddress } from './publish.js';

export interface PrivateOptions {
  ckptDir: string;
  interval?: number;
  keep?: number;
  expect?: number;
  host?: string;
}

export async function startPrivateCoordinator(o: PrivateOptions): Promise<CoordAddress> {
  const args = [join(repoRoot, 'bin', 'stasis.js'), 'coordinator', '--ckpt-dir', o.ckptDir, '--port', '0',
    '--private', '--owner-pid', String(process.pid), '--ready-fd', '1'];
  if (o.host) args.push('--host', o.host);
  if (o.interval) args.push('--interval', String(o.interval));
  if (o.keep) args.push('--keep', String(o.keep));
  if (o.expect) args.push('--expect', String(o.expect));
  const log = openSync(join(o.ckptDir, 'coordinator.log'), 'a', 0o600);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', log] });
  closeSync(log);
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve(buf || `ERROR the coordinator exited (${code}) before it was ready; see ${join(o.ckptDir, 'coordinator.log')}`));
  });
  child.stdout!.destroy();
  child.unref();
  const w = line.split(' ');
  if (w[0] !== 'READY') throw new Error(w.slice(1).join(' ') || 'the coordinator did not start');
  return { host: w[1]!, port: Number(w[2]) };
}
