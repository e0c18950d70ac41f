// DMTCP's command lines, read into what the stasis commands take: the flag
// table of dmtcp_launch, dmtcp_restart, dmtcp_command and dmtcp_coordinator
// (their common flags and DMTCP_* variables), and where each finds its
// checkpoint directory and coordinator. Pure: no files, no network.

export type Tool = 'dmtcp_launch' | 'dmtcp_restart' | 'dmtcp_command' | 'dmtcp_coordinator';

/** A command line we cannot take: one line on stderr, exit status 2. */
export class DmtcpUsage extends Error {}

interface Spec {
  names: string[];
  key: string;
  value?: 'int' | 'string';   // takes a value (next word, or --name=V, or -i5 / -p0 for short ones)
  ignored?: boolean;          // accepted, means nothing under stasis (documented in cli.md)
  refused?: string;           // accepted as DMTCP's but not done: why, in one line
}

const COORD: Spec[] = [
  { names: ['-h', '--coord-host', '--host'], key: 'host', value: 'string' },
  { names: ['-p', '--coord-port', '--port'], key: 'port', value: 'int' },
];
const MODE: Spec[] = [
  { names: ['-j', '--join-coordinator', '--join'], key: 'join' },
  { names: ['--new-coordinator'], key: 'new' },
  { names: ['--any-coordinator'], key: 'any' },
];
const QUIET_ETC: Spec[] = [
  { names: ['-q', '--quiet'], key: 'quiet', ignored: true },
  { names: ['-t', '--tmpdir'], key: 'tmpdir', value: 'string', ignored: true },
  { names: ['--coord-logfile'], key: 'coordLogfile', value: 'string', ignored: true },
];
const PORT_FILE: Spec = { names: ['--port-file'], key: 'portFile', value: 'string',
  refused: 'not supported here: start dmtcp_coordinator --port-file F first, or read D/coordinator.json' };

const TABLES: Record<Tool, Spec[]> = {
  dmtcp_launch: [
    ...COORD, ...MODE, ...QUIET_ETC, PORT_FILE,
    { names: ['-i', '--interval'], key: 'interval', value: 'int' },
    { names: ['-c', '--ckptdir'], key: 'ckptdir', value: 'string' },
    { names: ['--gzip'], key: 'gzip' },
    { names: ['--no-gzip'], key: 'noGzip' },
    { names: ['--ckpt-open-files', '--checkpoint-open-files'], key: 'openFiles', ignored: true },
    { names: ['--allow-file-overwrite'], key: 'overwrite', ignored: true },
    { names: ['--rm', '--batch-queue'], key: 'rm', ignored: true },
    { names: ['--explicit-srun'], key: 'srun', ignored: true },
    { names: ['--mpi'], key: 'mpi', ignored: true },
    { names: ['--disable-alloc-plugin'], key: 'noAlloc', ignored: true },
    { names: ['--disable-dl-plugin'], key: 'noDl', ignored: true },
    { names: ['--ckpt-signal'], key: 'signal', value: 'string', refused: 'set STASIS_SIGNAL instead (a signal name, e.g. SIGRTMAX-2)' },
    { names: ['--with-plugin'], key: 'plugin', value: 'string', refused: 'stasis loads no DMTCP plugins (its own are always loaded)' },
    { names: ['--ptrace'], key: 'ptrace', refused: 'stasis cannot checkpoint traced processes yet' },
    { names: ['--ib', '--infiniband', '--ib2tcp'], key: 'ib', refused: 'stasis cannot checkpoint InfiniBand connections' },
    { names: ['--modify-env'], key: 'modifyEnv', refused: 'not supported by stasis' },
    { names: ['--pathvirt'], key: 'pathvirt', refused: 'use stasis restart --path-map OLD=NEW instead' },
    { names: ['--no-plugins', '--disable-all-plugins'], key: 'noPlugins', refused: 'stasis cannot run without its plugins' },
  ],
  dmtcp_restart: [
    ...COORD, ...MODE, ...QUIET_ETC, PORT_FILE,
    { names: ['-i', '--interval'], key: 'interval', value: 'int' },
    { names: ['-c', '--ckptdir'], key: 'ckptdir', value: 'string' },
    { names: ['--restartdir'], key: 'restartdir', value: 'string' },
    { names: ['--no-strict-checking'], key: 'noStrict', ignored: true },
    { names: ['--mpi'], key: 'mpi', ignored: true },
    { names: ['--debug-restart-pause'], key: 'pause', value: 'string', ignored: true },
  ],
  dmtcp_command: [
    ...COORD,
    { names: ['--ckptdir'], key: 'ckptdir', value: 'string' },
  ],
  dmtcp_coordinator: [
    { names: ['-p', '--coord-port', '--port'], key: 'port', value: 'int' },
    { names: ['-i', '--interval'], key: 'interval', value: 'int' },
    { names: ['-c', '--ckptdir'], key: 'ckptdir', value: 'string' },
    { names: ['--port-file'], key: 'portFile', value: 'string' },
    { names: ['--status-file'], key: 'statusFile', value: 'string' },
    { names: ['--exit-on-last'], key: 'exitOnLast' },
    { names: ['--daemon'], key: 'daemon' },
    { names: ['--coord-logfile'], key: 'coordLogfile', value: 'string' },
    { names: ['-q', '--quiet'], key: 'quiet', ignored: true },
    { names: ['-t', '--tmpdir'], key: 'tmpdir', value: 'string', ignored: true },
    { names: ['--write-kv-data'], key: 'kv', ignored: true },
    { names: ['--stale-timeout'], key: 'staleTimeout', value: 'int', ignored: true },
    { names: ['--timeout'], key: 'timeout', value: 'int', refused: 'not supported: stop the coordinator with dmtcp_command -q' },
    { names: ['--kill-after-ckpt'], key: 'killAfter', refused: 'not supported: use dmtcp_command -bc, then -k' },
  ],
};

export type Values = Record<string, string | true>;

/**
 * Reads `tool`'s options from `argv`. dmtcp_launch stops at the program
 * (the first word that is not an option, or after `--`); the others take
 * every word, operands collected. Throws DmtcpUsage.
 */
export function parseFlags(tool: Tool, argv: string[], stopAtOperand: boolean): { values: Values; operands: string[] } {
  const table = TABLES[tool];
  const values: Values = {};
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') { operands.push(...argv.slice(i + 1)); break; }
    if (!word.startsWith('-') || word === '-') {
      if (stopAtOperand) { operands.push(...argv.slice(i)); break; }
      operands.push(word);
      continue;
    }
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    let name = eq > 0 ? word.slice(0, eq) : word;
    let attached: string | undefined = eq > 0 ? word.slice(eq + 1) : undefined;
    // -i5, -p0: DMTCP's short forms with the number attached.
    const short = /^-([ip])(\d+)$/.exec(word);
    if (short) { name = `-${short[1]}`; attached = short[2]; }
    const spec = table.find((s) => s.names.includes(name));
    if (!spec) throw new DmtcpUsage(`unknown option ${name} (see ${tool} --help)`);
    if (spec.refused) throw new DmtcpUsage(`${name}: ${spec.refused}`);
    let value: string | true = true;
    if (spec.value) {
      if (attached === undefined) {
        if (i + 1 >= argv.length) throw new DmtcpUsage(`${name} needs a value`);
        attached = argv[++i]!;
      }
      if (spec.value === 'int' && !/^\d+$/.test(attached)) throw new DmtcpUsage(`${name} '${attached}': want a whole number`);
      value = attached;
    } else if (attached !== undefined) throw new DmtcpUsage(`${name} takes no value`);
    if (spec.ignored) continue;
    if (value === '') throw new DmtcpUsage(`${name}: an empty value`);
    values[spec.key] = value;
  }
  return { values, operands };
}

/** A whole number from DMTCP_* variable `name`, or undefined when unset or empty. */
function envInt(env: NodeJS.ProcessEnv, ...names: string[]): number | undefined {
  for (const name of names) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    if (!/^\d+$/.test(v)) throw new DmtcpUsage(`${name}='${v}': want a whole number`);
    return Number(v);
  }
  return undefined;
}

function envString(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const name of names) if (env[name]) return env[name];
  return undefined;
}

/** What every front needs to know: the checkpoint directory and the coordinator's address, if one is named. */
export interface Where {
  ckptDir: string;
  host?: string;              // as given (-h or DMTCP_COORD_HOST)
  port?: number;              // as given (-p or DMTCP_COORD_PORT); 0: "any free port"
}

/** The ckpt dir: --ckptdir, DMTCP_CHECKPOINT_DIR, STASIS_CKPT_DIR, else ./stasis-ckpt. */
export function where(values: Values, env: NodeJS.ProcessEnv): Where {
  const ckptDir = (values.ckptdir as string | undefined) ?? envString(env, 'DMTCP_CHECKPOINT_DIR', 'STASIS_CKPT_DIR') ?? 'stasis-ckpt';
  const host = (values.host as string | undefined) ?? envString(env, 'DMTCP_COORD_HOST', 'DMTCP_HOST');
  const port = values.port !== undefined ? Number(values.port) : envInt(env, 'DMTCP_COORD_PORT', 'DMTCP_PORT');
  return { ckptDir, ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}) };
}

/** `localhost` (DMTCP's default host) as the address stasis coordinators listen on. */
export function connectHost(host: string | undefined): string {
  return !host || host === 'localhost' ? '127.0.0.1' : host;
}

export type Mode = 'any' | 'join' | 'new';

function mode(values: Values): Mode {
  const given = (['join', 'new', 'any'] as const).filter((m) => values[m]);
  if (given.length > 1) throw new DmtcpUsage('give at most one of -j/--join-coordinator, --new-coordinator, --any-coordinator');
  return given[0] ?? 'any';
}

/** Interval seconds from -i or DMTCP_CHECKPOINT_INTERVAL, if given. */
function interval(values: Values, env: NodeJS.ProcessEnv): number | undefined {
  return values.interval !== undefined ? Number(values.interval) : envInt(env, 'DMTCP_CHECKPOINT_INTERVAL');
}

export interface LaunchPlan extends Where {
  mode: Mode;
  interval?: number;
  compress?: string;          // STASIS_COMPRESS for the job: --no-gzip / DMTCP_GZIP=0 → none
  program: string[];
}

export function parseLaunch(argv: string[], env: NodeJS.ProcessEnv): LaunchPlan {
  const { values, operands } = parseFlags('dmtcp_launch', argv, true);
  if (!operands.length) throw new DmtcpUsage('give the program to run, e.g. dmtcp_launch ./app args');
  const m = mode(values);
  const i = interval(values, env);
  if (m === 'join' && i !== undefined && values.interval !== undefined)
    throw new DmtcpUsage('-i/--interval cannot go with -j/--join-coordinator: the running coordinator keeps its interval (dmtcp_command -i S changes it)');
  if (values.gzip && values.noGzip) throw new DmtcpUsage('give --gzip or --no-gzip, not both');
  const gzipEnv = env.DMTCP_GZIP;
  const compress = values.noGzip ? 'none' : values.gzip ? 'zstd' : gzipEnv === '0' ? 'none' : gzipEnv === '1' ? 'zstd' : undefined;
  return { ...where(values, env), mode: m, ...(i !== undefined ? { interval: i } : {}), ...(compress ? { compress } : {}), program: operands };
}

export interface RestartPlan extends Where {
  target: string;             // the checkpoint directory (or a gen-NNNNNN in it) to restart
  interval?: number;
}

/** Why a DMTCP restart argument is not something stasis restarts from, or null. */
export function dmtcpImageArgument(arg: string): string | null {
  if (/\.dmtcp(\.gz)?$/.test(arg) || /(^|\/)ckpt_[^/]*$/.test(arg))
    return `${arg} is a DMTCP checkpoint image; stasis keeps each checkpoint as a generation in a directory: use stasis restart D (or dmtcp_restart D)`;
  if (/(^|\/)dmtcp_restart_script[^/]*\.sh$/.test(arg))
    return `${arg} is a DMTCP restart script; stasis writes none: use stasis restart D (or dmtcp_restart D)`;
  return null;
}

export function parseRestart(argv: string[], env: NodeJS.ProcessEnv): RestartPlan {
  const { values, operands } = parseFlags('dmtcp_restart', argv, false);
  for (const arg of operands) {
    const why = dmtcpImageArgument(arg);
    if (why) throw new DmtcpUsage(why);
  }
  if (values.join) throw new DmtcpUsage('-j/--join-coordinator: stasis restart runs its own coordinator; stop a running one first (dmtcp_command -q)');
  if (operands.length > 1) throw new DmtcpUsage(`give one checkpoint directory, not ${operands.length} arguments`);
  if (operands.length && values.restartdir) throw new DmtcpUsage('give the checkpoint directory or --restartdir, not both');
  const w = where(values, env);
  const i = interval(values, env);
  const target = operands[0] ?? (values.restartdir as string | undefined) ?? w.ckptDir;
  return { ...w, target, ...(i !== undefined ? { interval: i } : {}) };
}

export type CommandVerb = 'status' | 'list' | 'checkpoint' | 'interval' | 'kill' | 'quit';

export interface CommandPlan extends Where {
  verb: CommandVerb;
  blocking: boolean;          // -bc (stasis always waits for the commit; kept for the record)
  interval?: number;
}

const VERBS: Record<string, CommandVerb> = {
  s: 'status', status: 'status', l: 'list', list: 'list', c: 'checkpoint', checkpoint: 'checkpoint',
  bc: 'checkpoint', bcheckpoint: 'checkpoint', i: 'interval', interval: 'interval', k: 'kill', kill: 'kill', q: 'quit', quit: 'quit',
};

/**
 * dmtcp_command [-h H] [-p P] COMMAND: commands are words with or without
 * leading dashes (`-bc`, `--bcheckpoint`, `s`), `-i N` / `-i5` sets the
 * interval. Split out before the option table, as DMTCP does.
 */
export function parseCommand(argv: string[], env: NodeJS.ProcessEnv): CommandPlan {
  const rest: string[] = [];
  const verbs: Array<{ verb: CommandVerb; word: string; interval?: number }> = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    const bare = word.replace(/^-{1,2}/, '');
    const attached = /^-{0,2}i(\d+)$/.exec(word);
    if (attached) { verbs.push({ verb: 'interval', word, interval: Number(attached[1]) }); continue; }
    // -h alone (the last word) is help; -h HOST is the host.
    if ((word === '-h' || word === '--coord-host' || word === '--host' || word === '-p' || word === '--port'
      || word === '--coord-port' || word === '--ckptdir') && i + 1 < argv.length) { rest.push(word, argv[++i]!); continue; }
    const verb = VERBS[bare];
    if (verb === undefined) { rest.push(word); continue; }
    if (verb === 'interval') {
      const v = argv[i + 1];
      if (v === undefined || !/^\d+$/.test(v)) throw new DmtcpUsage(`${word} needs a whole number of seconds`);
      i++;
      verbs.push({ verb, word, interval: Number(v) });
    } else verbs.push({ verb, word });
  }
  const { values, operands } = parseFlags('dmtcp_command', rest, false);
  if (operands.length) throw new DmtcpUsage(`unknown command ${operands[0]} (see dmtcp_command --help)`);
  if (verbs.length !== 1)
    throw new DmtcpUsage(verbs.length ? `give one command, not ${verbs.map((v) => v.word).join(' ')}` : 'give a command: -s, -l, -c, -bc, -i N, -k or -q');
  const v = verbs[0]!;
  return { ...where(values, env), verb: v.verb, blocking: /^-{0,2}b/.test(v.word), ...(v.interval !== undefined ? { interval: v.interval } : {}) };
}

export const DMTCP_DEFAULT_PORT = 7779;

export interface CoordinatorPlan {
  ckptDir: string;
  port: number;               // -p, a trailing port, DMTCP_COORD_PORT, else 7779 (DMTCP's)
  listenHost?: string;        // DMTCP_COORD_HOST: where multi-node jobs reach it
  interval?: number;
  portFile?: string;
  statusFile?: string;
  exitOnLast: boolean;
  daemon: boolean;
  logFile?: string;
}

export function parseCoordinator(argv: string[], env: NodeJS.ProcessEnv): CoordinatorPlan {
  const { values, operands } = parseFlags('dmtcp_coordinator', argv, false);
  if (operands.length > 1 || (operands.length && !/^\d+$/.test(operands[0]!)))
    throw new DmtcpUsage(`unexpected argument ${operands.join(' ')} (the only operand is a port number)`);
  const w = where(values, env);
  const port = operands.length ? Number(operands[0]) : w.port ?? DMTCP_DEFAULT_PORT;
  if (port > 65535) throw new DmtcpUsage(`port ${port}: want 0 to 65535`);
  const i = interval(values, env);
  return {
    ckptDir: w.ckptDir, port, ...(w.host ? { listenHost: w.host } : {}), ...(i !== undefined ? { interval: i } : {}),
    ...(values.portFile ? { portFile: values.portFile as string } : {}),
    ...(values.statusFile ? { statusFile: values.statusFile as string } : {}),
    exitOnLast: values.exitOnLast === true, daemon: values.daemon === true,
    ...(values.coordLogfile ? { logFile: values.coordLogfile as string } : {}),
  };
}
