// stasis command-line entry: one module per command under src/cli/.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadCommands } from './commands.js';

const args = hideBin(process.argv);
const cli = yargs(args)
  .scriptName('stasis')
  .strict()
  .demandCommand(1, 'give a command (see stasis --help)')
  .recommendCommands()
  .fail((msg, err) => {
    const text = err ? err.message : msg;
    process.stderr.write(`stasis: ${text.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(2);
  })
  .help();
for (const c of await loadCommands(args[0])) cli.command(c);
await cli.parseAsync();
