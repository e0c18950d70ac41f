// stasis inspect D|gen-dir|image [--json]: verify every checksum and say what
// a checkpoint holds. Exit 0 only when everything verified.
import type { CommandModule } from 'yargs';
import { inspect, type InspectReport, type ProcessReport } from '../images/inspect.js';

interface Args { target: string; json: boolean }

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${bytes} B` : `${v.toFixed(1)} ${units[u]}`;
}

function processLines(p: ProcessReport): string[] {
  return [
    `process ${p.pid} on ${p.host || '?'}: ${p.name || '?'}`,
    `  threads ${p.threads}, regions ${p.regions}`,
    `  memory ${size(p.memoryBytes)} saved of ${size(p.mappedBytes)} mapped (${size(p.zeroElidedBytes)} of zero pages elided)`,
    `  image ${p.image}: ${size(p.bytes)}, compression ${p.compressionRatio.toFixed(2)}x, ${p.checksum}`,
    ...(p.referencedFiles.length
      ? [`  unchanged ${size(p.referencedBytes)} referenced in ${p.referencedFiles.join(', ')} (incremental)`] : []),
    ...(p.mappedFiles.length
      ? [`  ${size(p.fileMappedBytes)} mapped again from ${p.mappedFiles.join(', ')} at restart, not stored (incremental)`] : []),
    ...p.files.map((f) => `  file ${f.name}: ${size(f.bytes)}, ${f.checksum}`),
  ];
}

export function formatReport(r: InspectReport): string {
  const lines: string[] = [];
  if (r.kind === 'generation') {
    lines.push(`generation ${r.generation} (${r.dir}), created ${r.createdAt}`);
    lines.push(`job: rm ${r.job.rm}, id ${r.job.id ?? '-'}, hosts ${r.job.hosts.join(',') || '-'}`);
  } else {
    lines.push(`image ${r.path}`);
  }
  for (const p of r.processes) lines.push(...processLines(p));
  const n = r.processes.length;
  lines.push(`checksums verified (${n} image${n === 1 ? '' : 's'})`);
  return lines.join('\n') + '\n';
}

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <target>',
  describe: 'Verify and describe a checkpoint directory (its latest generation), a generation directory or one image',
  builder: (y) => y
    .positional('target', { type: 'string', demandOption: true, describe: 'ckpt dir, gen-NNNNNN dir or image file' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object' }),
  handler: async (argv) => {
    if (argv.target === '') throw new Error('inspect: an empty target path');
    const r = await inspect(argv.target, (line) => process.stderr.write(`stasis: ${line}\n`));
    process.stdout.write(argv.json ? JSON.stringify(r, null, 2) + '\n' : formatReport(r));
  },
};

