/**
 * srun's command line (Slurm's getopt_long with "+": no permutation), to
 * find the step's command among srun's own options: which options take a
 * value (`--opt=value`, `--opt value`, `-n2`, `-n 2`), which take one only
 * when attached (`--bcast=/tmp`, `-I5`), unique prefixes of long names
 * (`--ntask=2`), clustered short flags (`-lN2`), and "--". The table is
 * srun's options as its manual lists them (Slurm 22.05 to 25.x); the C
 * side (native/plugins/ssh/srun.c) keeps the same table, and
 * test/ssh/native-agree.test.ts checks that they are equal.
 */

export type SrunArg = 'none' | 'required' | 'optional';

/** [long name, argument, short letter or ''] */
export const SRUN_OPTIONS: ReadonlyArray<readonly [string, SrunArg, string]> = [
  ['accel-bind', 'required', ''],
  ['account', 'required', 'A'],
  ['acctg-freq', 'required', ''],
  ['bb', 'required', ''],
  ['bbf', 'required', ''],
  ['bcast', 'optional', ''],
  ['bcast-exclude', 'required', ''],
  ['begin', 'required', 'b'],
  ['chdir', 'required', 'D'],
  ['cluster-constraint', 'required', ''],
  ['clusters', 'required', 'M'],
  ['comment', 'required', ''],
  ['compress', 'optional', ''],
  ['constraint', 'required', 'C'],
  ['container', 'required', ''],
  ['contiguous', 'none', ''],
  ['core-spec', 'required', 'S'],
  ['cores-per-socket', 'required', ''],
  ['cpu-bind', 'required', ''],
  ['cpu-freq', 'required', ''],
  ['cpus-per-gpu', 'required', ''],
  ['cpus-per-task', 'required', 'c'],
  ['deadline', 'required', ''],
  ['delay-boot', 'required', ''],
  ['dependency', 'required', 'd'],
  ['disable-status', 'none', 'X'],
  ['distribution', 'required', 'm'],
  ['epilog', 'required', ''],
  ['error', 'required', 'e'],
  ['exact', 'none', ''],
  ['exclude', 'required', 'x'],
  ['exclusive', 'optional', ''],
  ['export', 'required', ''],
  ['external-launcher', 'none', ''],
  ['extra-node-info', 'required', 'B'],
  ['gid', 'required', ''],
  ['gpu-bind', 'required', ''],
  ['gpu-freq', 'required', ''],
  ['gpus', 'required', 'G'],
  ['gpus-per-node', 'required', ''],
  ['gpus-per-socket', 'required', ''],
  ['gpus-per-task', 'required', ''],
  ['gres', 'required', ''],
  ['gres-flags', 'required', ''],
  ['help', 'none', 'h'],
  ['het-group', 'required', ''],
  ['hint', 'required', ''],
  ['hold', 'none', 'H'],
  ['immediate', 'optional', 'I'],
  ['input', 'required', 'i'],
  ['job-name', 'required', 'J'],
  ['jobid', 'required', ''],
  ['kill-on-bad-exit', 'optional', 'K'],
  ['label', 'none', 'l'],
  ['licenses', 'required', 'L'],
  ['mail-type', 'required', ''],
  ['mail-user', 'required', ''],
  ['mcs-label', 'required', ''],
  ['mem', 'required', ''],
  ['mem-bind', 'required', ''],
  ['mem-per-cpu', 'required', ''],
  ['mem-per-gpu', 'required', ''],
  ['mincpus', 'required', ''],
  ['mpi', 'required', ''],
  ['msg-timeout', 'required', ''],
  ['multi-prog', 'none', ''],
  ['network', 'required', ''],
  ['nice', 'optional', ''],
  ['no-allocate', 'none', 'Z'],
  ['no-kill', 'optional', 'k'],
  ['nodefile', 'required', 'F'],
  ['nodelist', 'required', 'w'],
  ['nodes', 'required', 'N'],
  ['ntasks', 'required', 'n'],
  ['ntasks-per-core', 'required', ''],
  ['ntasks-per-gpu', 'required', ''],
  ['ntasks-per-node', 'required', ''],
  ['ntasks-per-socket', 'required', ''],
  ['oom-kill-step', 'optional', ''],
  ['open-mode', 'required', ''],
  ['output', 'required', 'o'],
  ['overcommit', 'none', 'O'],
  ['overlap', 'none', ''],
  ['oversubscribe', 'none', 's'],
  ['partition', 'required', 'p'],
  ['power', 'required', ''],
  ['prefer', 'required', ''],
  ['preserve-env', 'none', 'E'],
  ['priority', 'required', ''],
  ['profile', 'required', ''],
  ['prolog', 'required', ''],
  ['propagate', 'optional', ''],
  ['pty', 'none', ''],
  ['qos', 'required', 'q'],
  ['quiet', 'none', 'Q'],
  ['quit-on-interrupt', 'none', ''],
  ['reboot', 'none', ''],
  ['relative', 'required', 'r'],
  ['reservation', 'required', ''],
  ['resv-ports', 'optional', ''],
  ['segment', 'required', ''],
  ['send-libs', 'optional', ''],
  ['signal', 'required', ''],
  ['slurmd-debug', 'required', ''],
  ['sockets-per-node', 'required', ''],
  ['spread-job', 'none', ''],
  ['switches', 'required', ''],
  ['task-epilog', 'required', ''],
  ['task-prolog', 'required', ''],
  ['test-only', 'none', ''],
  ['thread-spec', 'required', ''],
  ['threads', 'required', 'T'],
  ['threads-per-core', 'required', ''],
  ['time', 'required', 't'],
  ['time-min', 'required', ''],
  ['tmp', 'required', ''],
  ['tres-bind', 'required', ''],
  ['tres-per-task', 'required', ''],
  ['uid', 'required', ''],
  ['unbuffered', 'none', 'u'],
  ['usage', 'none', ''],
  ['use-min-nodes', 'none', ''],
  ['verbose', 'none', 'v'],
  ['version', 'none', 'V'],
  ['wait', 'required', 'W'],
  ['wckey', 'required', ''],
  ['x11', 'optional', ''],
];

/** Modes that run no command of ours: srun runs as given. */
const SRUN_PASS = new Set(['help', 'usage', 'version', 'test-only', 'multi-prog']);

export interface Step {
  kind: 'step';
  /** srun's own options, as given (without a "--" before the command). */
  options: string[];
  /** The program each task runs and its arguments. */
  command: string[];
}

export type SrunParse = Step | { kind: 'pass'; reason: string };

function findLong(name: string): readonly [string, SrunArg, string] | string {
  const exact = SRUN_OPTIONS.find((o) => o[0] === name);
  if (exact) return exact;
  const prefixed = SRUN_OPTIONS.filter((o) => o[0].startsWith(name));
  if (prefixed.length === 1) return prefixed[0]!;
  return prefixed.length ? `ambiguous option --${name}` : `unknown option --${name}`;
}

export function parseSrun(argv: readonly string[]): SrunParse {
  let i = 1;
  const pass = (reason: string): SrunParse => ({ kind: 'pass', reason });
  let cut = -1;   // index of a "--" that ends the options
  for (; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') { cut = i; i++; break; }
    if (w[0] !== '-' || w === '-') break;
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const name = eq >= 0 ? w.slice(2, eq) : w.slice(2);
      const o = findLong(name);
      if (typeof o === 'string') return pass(o);
      if (SRUN_PASS.has(o[0])) return pass(`--${o[0]}`);
      if (o[1] === 'none' && eq >= 0) return pass(`--${o[0]} takes no value`);
      if (o[1] === 'required' && eq < 0) {
        if (i + 1 >= argv.length) return pass(`--${o[0]} without its value`);
        i++;
      }
      continue;
    }
    for (let k = 1; k < w.length; k++) {
      const c = w[k]!;
      const o = SRUN_OPTIONS.find((x) => x[2] === c);
      if (!o) return pass(`unknown option -${c}`);
      if (SRUN_PASS.has(o[0])) return pass(`--${o[0]}`);
      if (o[1] === 'none') continue;
      if (o[1] === 'required' && k + 1 === w.length) {
        if (i + 1 >= argv.length) return pass(`-${c} without its value`);
        i++;
      }
      break;
    }
  }
  const command = argv.slice(i);
  if (command.length === 0) return pass('no command');
  const options = argv.slice(1, cut >= 0 ? cut : i);
  return { kind: 'step', options, command };
}
