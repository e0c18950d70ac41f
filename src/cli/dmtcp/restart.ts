// dmtcp_restart [options] [D]: `stasis restart D` under DMTCP's flags. A
// DMTCP image (ckpt_*.dmtcp) or restart script gets one line saying what to run.
import { readdirSync } from 'node:fs';
import { generationNumber } from '../../images/manifest.js';
import { DmtcpUsage, parseRestart } from './flags.js';
import { front, runStasis } from './front.js';

const USAGE = `Usage: dmtcp_restart [OPTIONS] [D]
Restart a job from its checkpoint directory D (DMTCP-compatible front of
stasis restart): the newest committed generation of D, or D/gen-NNNNNN.

  -c, --ckptdir D, --restartdir D
                          checkpoint directory (DMTCP_CHECKPOINT_DIR; default
                          STASIS_CKPT_DIR, else ./stasis-ckpt)
  -i, --interval S        seconds between checkpoints after the restart
  -h, -p, --new-coordinator, --any-coordinator
                          accepted; stasis restart always runs its own coordinator
DMTCP images (ckpt_*.dmtcp) and dmtcp_restart_script.sh are not stasis
checkpoints. See docs/cli.md.
`;

/** A directory of DMTCP images and no stasis generation: say so rather than "no generation". */
function dmtcpDirectory(dir: string): string | null {
  let names: string[];
  try { names = readdirSync(dir); } catch { return null; }
  const images = names.filter((n) => /^ckpt_.*\.dmtcp(\.gz)?$/.test(n));
  if (!images.length || names.some((n) => generationNumber(n) !== null)) return null;
  return `${dir} holds DMTCP images (${images[0]}${images.length > 1 ? ', ...' : ''}), no stasis checkpoint: stasis restarts only what stasis checkpointed`;
}

async function main(argv: string[]): Promise<void> {
  const plan = parseRestart(argv, process.env);
  const why = dmtcpDirectory(plan.target);
  if (why) throw new DmtcpUsage(why);
  await runStasis(['restart', plan.target, ...(plan.interval !== undefined ? ['--interval', String(plan.interval)] : [])]);
}

await front('dmtcp_restart', USAGE, main);
