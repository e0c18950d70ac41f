// Checkpoints back to back while a job runs: one command connection to the
// job's coordinator, a CHECKPOINT sent as soon as the last one is answered
// (no CLI start-up between them), until `until()` holds or the coordinator
// goes (a private one ends with its job).
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeArg } from '../../src/coordinator/protocol.js';

export interface LoopResult { committed: number; aborted: string[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function checkpointWhile(ckptDir: string, until: () => boolean): Promise<LoopResult> {
  let coord: { host: string; port: number } | null = null;
  while (!coord) {
    try { coord = JSON.parse(readFileSync(join(ckptDir, 'coordinator.json'), 'utf8')); } catch { await sleep(50); }
  }
  const token = readFileSync(join(ckptDir, 'token'), 'utf8').trim();
  const sock = connect(coord.port, coord.host);
  const result: LoopResult = { committed: 0, aborted: [] };
  await new Promise<void>((resolve, reject) => {
    let partial = '';
    sock.setEncoding('latin1');
    sock.on('error', () => resolve());   // the job ended and its coordinator with it
    sock.on('close', () => resolve());
    sock.on('data', (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (line.startsWith('WELCOME')) continue;
        if (line.startsWith('CHECKPOINTED ')) result.committed++;
        else if (line.startsWith('ERROR ')) result.aborted.push(decodeArg(line.slice(6)));
        else { reject(new Error(`unexpected answer: ${line}`)); return; }
        if (until()) { sock.end(); resolve(); return; }
        sock.write('CHECKPOINT\n');
      }
    });
    sock.write(`HELLO 1 ${token} cmd\nCHECKPOINT\n`);
  });
  sock.destroy();
  return result;
}
