// stasis command-line entry: one module per command under src/cli/.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commands } from './commands.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('stasis')
  .strict()
  .demandCommand(1, 'stasis: give a command (see --help)')
  .recommendCommands()
  .fail((msg, err) => {
    const text = err ? err.message : msg;
    process.stderr.write(`stasis: ${text.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(2);
  })
  .help();
for (const c of commands) cli.command(c);
await cli.parseAsync();
