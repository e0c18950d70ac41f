// `stasis pack D [gen] -o job.tar` and `stasis unpack job.tar D`: a
// generation as one tar file (src/images/pack.ts).
import type { CommandModule } from 'yargs';
import { pack, unpack } from '../images/pack.js';
import { generationName } from '../images/manifest.js';
import { pathOption } from './options.js';

interface PackArgs { dir: string; gen?: string; output: string }
interface UnpackArgs { archive: string; dir: string }

export const packCommand: CommandModule<object, PackArgs> = {
  command: 'pack <dir> [gen]',
  describe: 'Write one generation of a checkpoint directory (default: the one restart would use) to a tar file',
  builder: (y) => y
    .positional('dir', { type: 'string', demandOption: true, describe: 'checkpoint directory' })
    .positional('gen', { type: 'string', describe: 'generation: N or gen-NNNNNN (default: as restart chooses)' })
    .option('output', { ...pathOption('output', 'the tar file to write (.tar.gz or .tgz: gzipped)'), alias: 'o', demandOption: true }) as never,
  handler: async (a) => {
    if (a.dir === '') throw new Error('pack: an empty checkpoint directory path');
    const r = await pack(a.dir, a.gen, a.output);
    if (r.notice) process.stderr.write(`stasis: ${r.notice}\n`);
    process.stdout.write(`packed ${generationName(r.generation)}: ${r.files} files, ${r.bytes} bytes -> ${r.out}\n`);
  },
};

export const unpackCommand: CommandModule<object, UnpackArgs> = {
  command: 'unpack <archive> <dir>',
  describe: 'Verify a generation packed by stasis pack and add it to a checkpoint directory',
  builder: (y) => y
    .positional('archive', { type: 'string', demandOption: true, describe: 'tar file written by stasis pack' })
    .positional('dir', { type: 'string', demandOption: true, describe: 'checkpoint directory (created if needed)' }) as never,
  handler: async (a) => {
    if (a.archive === '' || a.dir === '') throw new Error('unpack: an empty path');
    const r = await unpack(a.archive, a.dir);
    const notes = [r.latest ? 'latest' : 'not latest (a newer generation is there)',
      r.settings === 'kept' ? `kept the directory's own settings.json` : null].filter(Boolean).join('; ');
    process.stdout.write(`unpacked ${generationName(r.generation)} into ${r.dir}, checksums verified (${notes})\n`);
  },
};
