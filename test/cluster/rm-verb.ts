// Runs one adapter verb from inside a test-cluster job, the way the job
// driver will: detectJob() from the job's environment, then the verb.
//   node dist/test/cluster/rm-verb.js spawn -- ARGV...   (one copy per node of the job)
//   node dist/test/cluster/rm-verb.js requeue
// Prints the launcher's stdout/stderr lines and exits with its status.
import { pathToFileURL } from 'node:url';
import { detectJob } from '../../src/rm/index.js';
import { requeue, spawnOnNodes, type VerbResult } from '../../src/rm/verbs.js';

async function main(args: string[]): Promise<number> {
  const rm = detectJob();
  let r: VerbResult;
  if (args[0] === 'spawn' && args[1] === '--') {
    r = await spawnOnNodes(rm, rm.job.nodes.map((n) => n.host), args.slice(2), { timeoutMs: 60_000 });
  } else if (args[0] === 'requeue' && args.length === 1) {
    r = await requeue(rm, { timeoutMs: 30_000 });
  } else {
    process.stderr.write('usage: rm-verb.js spawn -- ARGV... | rm-verb.js requeue\n');
    return 2;
  }
  for (const l of r.stdout) process.stdout.write(`${l}\n`);
  for (const l of r.stderr) process.stderr.write(`${l}\n`);
  process.stderr.write(`rm-verb: ${rm.kind} ${r.argv.join(' ')} -> ${r.exitCode}\n`);
  return r.exitCode;
}

// `npx mocha dist/test/cluster` loads every .js file in the directory, this
// one included: only act when run as a program.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`rm-verb: ${e.message}\n`);
    process.exit(1);
  },
  );
}
