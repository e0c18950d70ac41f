// The coordinator: authenticates clients, runs checkpoints one at a time
// (interval or on request), releases restored processes together, and
// answers commands (docs/protocol.md).
import { createServer, type Server, type Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { basename } from 'node:path';
import { isExecing, isLocal } from './procfs.js';
import { flushGeneration } from '../images/levels.js';
import { testPause } from './test-pause.js';
import { Store } from '../images/store.js';
import { decodeArg, encodeArg, PROTOCOL_VERSION, readLines, sendLine, pieceLines } from './protocol.js';
import { ProcPeer, type ProcInfo } from './peer.js';
import { JoinedLate, namedOutsiders, runCheckpoint, type CheckpointResult, type JobInfo } from './barrier.js';
import type { SaveMode } from './save-mode.js';
import { Every } from './every.js';
import { Names } from './names.js';
import { PidTable, releaseLines } from './pid-table.js';

const MAX_ATTEMPTS = 5;   // of one checkpoint, while processes keep joining during it
const RESTORING_WAIT_MS = 30_000;   // a checkpoint asked for while the job is still being restored waits this long

export interface CoordinatorOptions {
  ckptDir: string;
  token: string;
  host: string;
  port: number;
  interval: number;          // seconds between checkpoints, 0: none
  keep: number;              // generations kept, 0: all (at each level)
  local?: Store | null;      // --local-dir: the node-local level, L/<job key> (images/levels.ts)
  expect: number;            // restored processes to wait for before releasing them
  expectImages?: string[];   // their image names (a restart): only these count, each once
  exitWhenIdle: boolean;     // private coordinator: exit after the last process leaves
  exitOnLast?: boolean;      // a user-started one asked to (dmtcp_coordinator --exit-on-last): the same exit only
  timeoutMs: number;
  saveMode?: SaveMode;       // forked: each process's copy writes its image while the job runs on
  helloTimeoutMs?: number;   // a client must say HELLO within this (default 10 s)
  job: JobInfo;
  log: (s: string) => void;
  /** Where the user sees failed interval checkpoints (a private coordinator: launch's stderr). */
  alert?: (s: string) => void;
}

/** The last checkpoint's outcome, for STATUS. */
export type Outcome = { generation: number; committed: true; at: string }
  | { generation: number | null; committed: false; reason: string; at: string };

type State = 'running' | 'checkpointing' | 'restoring';

export class Coordinator {
  private server: Server | null = null;
  private peers = new Map<number, ProcPeer>();
  private nextId = 1;
  private everConnected = false;
  private chain: Promise<unknown> = Promise.resolve();
  private inProgress = 0;
  private restoring: ProcPeer[] = [];
  private releasing = false;   // every restored process connected; not all resumed yet
  private onReleased: Array<() => void> = [];   // checkpoints asked for while restoring, waiting
  private lateJoiners: ProcPeer[] | null = null;   // joined while processes are being stopped
  private joinedAt = new Map<string, bigint>();   // host/kernel pid → when its latest image joined (hrtime)
  private execing = new Map<string, ProcPeer>();   // left while exec'ing; their new image has not joined yet
  private intervalTimer: Every | null = null;
  private names = new Names();   // PUBLISH/LOOKUP of restart loaders
  private lastGeneration = 0;   // the last committed
  private lastNumber = 0;       // the last tried: an aborted generation's number is never reused
  private lastOutcome: Outcome | null = null;
  private alerted: string | null = null;   // reason of the last failed interval checkpoint shown to the user
  readonly store: Store;
  readonly local: Store | null;
  private flushWanted: number | null = null;   // the newest locally committed generation not yet flushed to D
  private flushing: number | null = null;      // the one being copied now
  private flushChain: Promise<void> = Promise.resolve();
  private localRefused: string | null = null;   // why the local level was last passed over (logged once per reason)
  private stopped: Promise<void>;
  private stop!: () => void;
  address = { host: '', port: 0 };

  constructor(private opts: CoordinatorOptions) {
    this.store = new Store(opts.ckptDir);
    this.local = opts.local ?? null;
    this.lastGeneration = Math.max(this.store.latest() ?? 0, this.local?.latest() ?? 0);
    // A flush cut off (the coordinator killed): the newest local generation goes to D now.
    const localNewest = this.local?.latest() ?? 0;
    if (localNewest > (this.store.latest() ?? 0)) this.scheduleFlush(localNewest);
    this.stopped = new Promise((res) => { this.stop = res; });
  }

  get state(): State {
    // Until every restored process runs again: a checkpoint asked for while
    // they are still being released would cross the release's barriers.
    if (this.restoring.length < this.opts.expect || this.releasing) return 'restoring';
    return this.inProgress ? 'checkpointing' : 'running';
  }

  /** Listens (on an inherited socket `fd` if given); rejects with one line (e.g. the port is in use). */
  async listen(fd?: number): Promise<void> {
    const server = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const where = `${this.opts.host}:${this.opts.port}`;
        reject(new Error(e.code === 'EADDRINUSE' ? `cannot listen on ${where}: port ${this.opts.port} is in use (EADDRINUSE)`
          : `cannot listen on ${where}: ${e.message}`));
      });
      if (fd !== undefined) server.listen({ fd }, () => resolve());
      else server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const a = server.address();
    if (a && typeof a === 'object') this.address = { host: this.opts.host, port: a.port };
    this.server = server;
    this.setInterval(this.opts.interval);
  }

  /** Resolves when the coordinator has shut down. */
  done(): Promise<void> { return this.stopped; }

  shutdown(why: string): void {
    this.opts.log(`shutting down: ${why}`);
    this.setInterval(0);
    this.server?.close();
    for (const p of this.peers.values()) p.sock.destroy();
    this.stop();
  }

  get processCount(): number { return this.peers.size; }

  /** Whether any process ever joined (then the last one leaving ends a private coordinator). */
  get hadProcesses(): boolean { return this.everConnected; }

  private setInterval(seconds: number): void {
    this.opts.interval = seconds;
    this.intervalTimer?.stop();
    this.intervalTimer = null;
    if (seconds > 0) {
      this.intervalTimer = new Every(seconds * 1000, () => {
        if (this.peers.size && !this.inProgress && this.state === 'running')
          this.checkpoint('interval').catch(() => undefined);   // logged by checkpoint()
      });
    }
  }

  private tokenOk(given: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(this.opts.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private accept(sock: Socket): void {
    sock.setNoDelay(true);
    let peer: ProcPeer | null = null;
    let isCommand = false;
    let denied = false;
    // After DENIED nothing more the client sends is read, and the connection
    // goes even if the client keeps its end open.
    const deny = (reason: string) => {
      denied = true;
      sendLine(sock, `DENIED ${encodeArg(reason)}`);
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    };
    const helloMs = this.opts.helloTimeoutMs ?? 10000;
    const hello = setTimeout(() => deny(`no HELLO within ${helloMs / 1000} s`), helloMs);
    readLines(sock, (line) => {
      if (denied) return;
      if (peer) return peer.onLine(line);
      if (isCommand) return void this.command(sock, line);
      clearTimeout(hello);
      const w = line.split(' ');
      if (w[0] !== 'HELLO' || w[1] !== String(PROTOCOL_VERSION) || !this.tokenOk(w[2] ?? '')) {
        return deny(w[0] !== 'HELLO' ? 'expected HELLO' : 'bad token or protocol version');
      }
      if (w[3] === 'cmd') {
        isCommand = true;
        sendLine(sock, `WELCOME 0 ${encodeArg(this.store.dir)}`);
      } else if (w[3] === 'proc' && w[7] === '2' && this.opts.exitWhenIdle) {
        // A private coordinator serves a new launch or restart of the job.
        deny('a process of an earlier run does not join a private coordinator');
      } else if (w[3] === 'proc' && w.length >= 9) {
        const info = {
          pid: Number(w[4]), host: decodeArg(w[5]!), name: decodeArg(w[6]!),
          restored: w[7] === '1', rejoined: w[7] === '2', image: w[8] === '-' ? null : decodeArg(w[8]!),
          kernelPid: Number(w[9] ?? w[4]), origin: w[10] ? decodeArg(w[10]) : decodeArg(w[5]!),
        };
        const taken = this.holderOf(info);
        if (taken) return deny(`process ${info.pid} of origin ${info.origin} has already joined (${taken.label}, kernel pid ${taken.info.kernelPid})`);
        peer = new ProcPeer(this.nextId++, sock, info);
        this.join(peer);
      } else {
        deny('malformed HELLO');
      }
    }, (why) => {
      clearTimeout(hello);
      if (peer) this.leave(peer, why);
    });
  }

  /**
   * Another live process of the job with the same (origin, pid): two
   * processes would share one name in the pid table and the images. The
   * same kernel process on the same host is not another: its new image
   * after exec, joining before its old connection's end was read.
   */
  private holderOf(info: ProcInfo): ProcPeer | undefined {
    for (const p of this.peers.values()) {
      if (p.closed || p.info.origin !== info.origin || p.info.pid !== info.pid) continue;
      if (p.info.host === info.host && p.info.kernelPid === info.kernelPid) continue;
      return p;
    }
    return undefined;
  }

  private join(peer: ProcPeer): void {
    this.peers.set(peer.id, peer);
    this.execing.delete(`${peer.info.host}/${peer.info.kernelPid}`);
    this.joinedAt.set(`${peer.info.host}/${peer.info.kernelPid}`, process.hrtime.bigint());
    this.everConnected = true;
    this.pids.learn(peer);
    // A new image (after exec, or a child started since a restart) learns
    // the job's pid table before anything else, then is welcomed.
    // (One rejoining after its coordinator was lost has its table already.)
    if (!peer.info.restored && !peer.info.rejoined) for (const l of this.pids.linesFor(peer.info.origin)) peer.send(l);
    peer.send(`WELCOME ${peer.id} ${encodeArg(this.store.dir)}`);
    this.opts.log(`${peer.label} connected${peer.info.restored ? ` (restored from ${peer.info.image})` : peer.info.rejoined ? ' (rejoined)' : ''}`);
    this.lateJoiners?.push(peer);
    if (peer.info.restored && this.awaited(peer)) {
      this.restoring.push(peer);
      if (this.restoring.length >= this.opts.expect) {
        this.releasing = true;
        void this.releaseRestored().finally(() => {
          this.releasing = false;
          for (const wake of this.onReleased.splice(0)) wake();
        });
      }
    } else if (peer.info.restored) {
      peer.send('RESUME 0');   // nobody to wait for
    }
  }

  /** Resolves once every restored process was released, or after `ms`. */
  private released(ms: number): Promise<void> {
    return new Promise((res) => {
      const timer = setTimeout(res, ms);
      this.onReleased.push(() => { clearTimeout(timer); res(); });
    });
  }

  /** A restored process the release still waits for: one of the named images (if named), not yet joined. */
  private awaited(peer: ProcPeer): boolean {
    if (this.restoring.length >= this.opts.expect) return false;
    const names = this.opts.expectImages;
    if (!names) return true;
    const name = basename(peer.info.image ?? '');
    return names.includes(name) && !this.restoring.some((p) => basename(p.info.image ?? '') === name);
  }

  /** Virtual pids learned from restored processes, by (host, kernel pid); handed out by origin. */
  private pids = new PidTable();

  /** Every expected process is back: let them all continue together. */
  private async releaseRestored(): Promise<void> {
    const peers = this.restoring.filter((p) => !p.closed);
    this.opts.log(`all ${this.opts.expect} restored process(es) connected: resuming`);
    // Each learns where the others of its origin are now, before any of them runs on.
    for (const [p, lines] of releaseLines(peers)) for (const l of lines) p.send(l);
    // Pids not in the table map to themselves: the coordinator need not say so.
    // Then, with everyone restored and still, a process may take over what
    // another restored (a description they share); only then do any run.
    await Promise.allSettled(peers.map((p) => p.ask('ALL_RESTORED', this.opts.timeoutMs)));
    await Promise.allSettled(peers.map((p) => p.ask('RESUME 0', this.opts.timeoutMs)));
  }

  private leave(peer: ProcPeer, why: string): void {
    peer.onClose(why);
    this.peers.delete(peer.id);
    this.opts.log(`${peer.label} left (${why})`);
    for (const [k, p] of this.execing) if (!p.inExec()) this.execing.delete(k);
    // Its new image may have joined (and even left) before this end of the
    // old one's connection was read: then it is not waited for.
    const key = `${peer.info.host}/${peer.info.kernelPid}`;
    const successor = [...this.peers.values()].some((p) => `${p.info.host}/${p.info.kernelPid}` === key) ||
      (peer.execAnnouncedAt > 0n && (this.joinedAt.get(key) ?? 0n) > peer.execAnnouncedAt);
    if (peer.inExec() && !successor) this.execing.set(key, peer);
    else this.execing.delete(key);
    if (!successor) this.joinedAt.delete(key);
    if ((this.opts.exitWhenIdle || this.opts.exitOnLast) && this.everConnected && this.peers.size === 0) {
      // Let an aborting checkpoint finish its cleanup first.
      void this.chain.finally(() => this.exitUnlessExecing(peer));
    }
  }

  /**
   * The last process left. If it still lives it is running exec() (a
   * wrapper like chroot or env handing over to the program): its new image
   * connects in a moment, so wait for that rather than leave the job
   * without a coordinator.
   */
  private exitUnlessExecing(last: ProcPeer, waitedMs = 0): void {
    if (this.peers.size > 0) return;
    // Not only the last to leave: a wrapper (pyenv's python3 shim) may exec
    // the program just as its last subshell exits after it.
    const still = [last, ...this.execing.values()].find((p) => p.inExec());
    if (still && waitedMs < 5000) {
      setTimeout(() => this.exitUnlessExecing(last, waitedMs + 50), 50);
      return;
    }
    // Its new image never joined (a static program): stay while it runs,
    // so that checkpoints say why instead of finding no coordinator.
    if (still) {
      if (waitedMs === 5000) this.opts.log(`${still.label} exec'd a program that did not join; serving until it ends`);
      setTimeout(() => this.exitUnlessExecing(last, waitedMs + 1000), 1000);
      return;
    }
    this.shutdown('last process left');
  }

  /**
   * Runs after any checkpoint in progress; the generation is numbered then.
   * A failure is logged whoever asked (`origin`: interval, or requested by a command).
   */
  checkpoint(origin: 'interval' | 'requested' = 'requested', thenKill = false): Promise<CheckpointResult> {
    this.inProgress++;
    let tried: number | null = null;
    const run = this.chain.then(async () => {
      // A process alone in its generation runs before it joins (so its
      // output can come first): a checkpoint asked for then waits for it,
      // and counts it (the peers as they are once it joined).
      if (this.state === 'restoring') await this.released(RESTORING_WAIT_MS);
      if (this.state === 'restoring') throw new Error('the job is still being restored');
      const peers = [...this.peers.values()].filter((p) => !p.closed);
      if (!peers.length) {
        const outside = namedOutsiders([...this.execing.values()]);
        throw new Error(outside.length ? `checkpoint refused: ${outside.join('; ')}` : 'no processes to checkpoint');
      }
      const { result, generation, level } = await this.checkpointRetried(peers, (g) => { tried = g; }, thenKill);
      this.lastGeneration = generation;
      this.lastOutcome = { generation, committed: true, at: new Date().toISOString() };
      this.alerted = null;
      if (level === this.local) this.scheduleFlush(generation);
      this.pruneLevels();
      return result;
    });
    this.chain = run.catch((e: Error) => this.failed(origin, tried, e.message)).finally(() => { this.inProgress--; });
    return run;
  }

  /**
   * Logs a failed checkpoint. A failed interval checkpoint is also shown to
   * the user (one line, the log's text): the first, and then each whose
   * reason differs from the last one shown, or that follows a commit.
   */
  private failed(origin: string, generation: number | null, message: string): void {
    const line = `${origin} checkpoint: ${message}`;
    this.opts.log(line);
    const reason = message.replace(/^checkpoint aborted, generation \d+ not committed: /, '');
    this.lastOutcome = { generation, committed: false, reason, at: new Date().toISOString() };
    if (origin === 'interval' && reason !== this.alerted) {
      this.alerted = reason;
      this.opts.alert?.(line);
    }
  }

  /**
   * One generation; again (a few times) when a process joined while the
   * others were being saved — an exec'ing image, a process rejoining — so
   * that the next attempt includes it.
   */
  private async checkpointRetried(peers: ProcPeer[], numbered: (g: number) => void, thenKill: boolean): Promise<{ result: CheckpointResult; generation: number; level: Store }> {
    let level = this.levelFor(peers);
    for (let attempt = 1; ; attempt++) {
      // A straggler of an aborted attempt may still write into its directory: never reuse its number.
      const generation = Math.max(this.lastGeneration + 1, this.lastNumber + 1, this.store.nextGeneration(), this.local?.nextGeneration() ?? 0);
      this.lastNumber = generation;
      numbered(generation);
      this.lateJoiners = [];
      const late = () => (this.lateJoiners ?? []).splice(0).filter((p) => !p.closed && !p.info.restored);
      const execing = [...this.execing.values()].filter((p) => p.inExec());
      try {
        const result = await runCheckpoint(peers, late, level, generation, this.opts.job, this.opts.timeoutMs,
          this.opts.log, execing, thenKill, this.opts.saveMode ?? 'stopped');
        return { result, generation, level };
      } catch (e) {
        if (!(e instanceof JoinedLate) && level === this.local && (e as Error).message.includes(this.local.dir) && attempt < MAX_ATTEMPTS) {
          // The local dir full or gone (the failure names a file there): the same checkpoint again, straight to D.
          this.opts.log(`local level ${this.local.dir}: ${(e as Error).message}; writing straight to ${this.store.dir}`);
          level = this.store;
          peers = [...this.peers.values()].filter((p) => !p.closed);
          continue;
        }
        if (!(e instanceof JoinedLate) || attempt >= MAX_ATTEMPTS) throw e;
        this.opts.log(`${(e as Error).message}; trying again (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`);
        peers = [...this.peers.values()].filter((p) => !p.closed);
      } finally {
        this.lateJoiners = null;
      }
    }
  }

  /** Where this checkpoint's images go: the local level when every process is on this host and it can be made. */
  private levelFor(peers: ProcPeer[]): Store {
    if (!this.local) return this.store;
    let why: string | null = null;
    const away = peers.find((p) => !isLocal(p.info.host));
    if (away) why = `${away.label} is on another host (the local level serves one-host jobs)`;
    else {
      try { this.local.ensure(); } catch (e) { why = (e as Error).message; }
    }
    if (why === null) { this.localRefused = null; return this.local; }
    if (why !== this.localRefused) this.opts.log(`local level ${this.local.dir} not used: ${why}; writing straight to ${this.store.dir}`);
    this.localRefused = why;
    return this.store;
  }

  /**
   * Copies local generation `g` to D in the background. A flush already
   * running finishes first; of the generations committed meanwhile only the
   * newest is flushed (an older one would be pruned or superseded in D anyway).
   */
  private scheduleFlush(g: number): void {
    const local = this.local;
    if (!local) return;
    this.flushWanted = Math.max(g, this.flushWanted ?? 0);
    this.flushChain = this.flushChain.then(async () => {
      const gen = this.flushWanted;
      if (gen === null) return;   // taken by an earlier turn
      this.flushWanted = null;
      this.flushing = gen;
      const t0 = Date.now();
      try {
        if ((this.store.latest() ?? 0) >= gen) return;
        await flushGeneration(local, this.store, local.readManifest(gen), () => testPause(this.store.dir, 'flush', gen, this.opts.log));
        this.opts.log(`generation ${gen} flushed to ${this.store.dir} in ${((Date.now() - t0) / 1000).toFixed(3)} s`);
      } catch (e) {
        // Still committed locally: restart finds it there; the next generation is flushed as usual.
        this.opts.log(`flushing generation ${gen} to ${this.store.dir}: ${(e as Error).message}`);
      } finally { this.flushing = null; }
      this.pruneLevels();
    });
  }

  get flushPending(): boolean { return this.flushing !== null || this.flushWanted !== null; }

  /** Resolves when no flush is running or waiting (a coordinator leaving waits for it). */
  async flushed(): Promise<void> {
    while (this.flushing !== null || this.flushWanted !== null) await this.flushChain;
  }

  /**
   * --keep in D; the local level keeps only its newest generation (D has the
   * older ones, and /dev/shm is memory), and one waiting to be flushed or
   * being flushed. A failure is only logged.
   */
  private pruneLevels(): void {
    const levels = this.local ? [this.store, this.local] : [this.store];
    for (const level of levels) {
      try {
        const spare = level === this.local ? [this.flushing, this.flushWanted].filter((g): g is number => g !== null) : [];
        const pruned = level.prune(level === this.local ? 1 : this.opts.keep, spare);
        if (pruned.length) this.opts.log(`pruned generation(s) ${pruned.join(', ')}${level === this.local ? ' (local level)' : ''}`);
      } catch (e) { this.opts.log(`pruning ${level.dir}: ${(e as Error).message}`); }
    }
  }

  status(): object {
    return {
      processes: this.peers.size, generation: this.lastGeneration, state: this.state,
      ckptDir: this.store.dir, localDir: this.local?.dir ?? null, interval: this.opts.interval, keep: this.opts.keep, pid: process.pid, save: this.opts.saveMode ?? 'stopped',
      lastCheckpoint: this.lastOutcome,
      clients: [...this.peers.values()].map((p) => ({ pid: p.info.pid, host: p.info.host, origin: p.info.origin, name: p.info.name, restored: p.info.restored, kernelPid: p.info.kernelPid })),
    };
  }

  killAll(): void {
    for (const p of this.peers.values()) p.send('KILL');
  }

  private async command(sock: Socket, line: string): Promise<void> {
    const [verb, arg] = line.split(' ');
    const reply = (s: string) => sendLine(sock, s);
    switch (verb) {
      case 'CHECKPOINT':
        if (arg !== undefined && arg !== 'KILL') return reply(`ERROR ${encodeArg(`bad CHECKPOINT argument '${arg}': want none or KILL`)}`);
        try {
          const r = await this.checkpoint('requested', arg === 'KILL');
          // Stopping the job (stasis run at preemption): answered once the generation is in D too.
          if (arg === 'KILL') await this.flushed();
          reply(`CHECKPOINTED ${r.generation} ${r.bytes} ${r.seconds.toFixed(3)}`);
        } catch (e) { reply(`ERROR ${encodeArg((e as Error).message)}`); }
        return;
      case 'STATUS': return pieceLines('STATUS', encodeArg(JSON.stringify(this.status()))).forEach(reply);
      case 'INTERVAL': {
        const s = Number(arg);
        if (!/^\d+$/.test(arg ?? '') || !Number.isSafeInteger(s)) return reply(`ERROR ${encodeArg(`bad interval '${arg}': want whole seconds`)}`);
        this.setInterval(s);
        return reply('OK');
      }
      case 'KILL': this.killAll(); return reply('OK');
      case 'PUBLISH': {   // PUBLISH KEY ADDR PORT
        const [, key, addr, port] = line.split(' ');
        if (!key || !addr || !/^\d{1,5}$/.test(port ?? '')) return reply(`ERROR ${encodeArg('bad PUBLISH: want KEY ADDR PORT')}`);
        if (!this.names.publish(key, { addr: decodeArg(addr), port: Number(port) }))
          this.opts.log(`${decodeArg(key)} published twice (now ${decodeArg(addr)}:${port}): two loaders restore one end of that connection`);
        return reply('OK');
      }
      case 'LOOKUP': {   // LOOKUP KEY SECONDS
        const [, key, secs] = line.split(' ');
        if (!key || !/^\d{1,5}$/.test(secs ?? '')) return reply(`ERROR ${encodeArg('bad LOOKUP: want KEY SECONDS')}`);
        try {
          const asked = Date.now();
          const w = await this.names.lookup(key, Number(secs) * 1000);
          // A loader that publishes late holds up every loader it is connected to.
          if (Date.now() - asked > 10_000) this.opts.log(`${decodeArg(key)} was published ${((Date.now() - asked) / 1000).toFixed(1)} s after a restart loader looked it up`);
          return reply(`FOUND ${encodeArg(w.addr)} ${w.port}`);
        } catch (e) {
          this.opts.log(`a restart loader looked up ${decodeArg(key)}: nobody published it within ${secs} s`);
          return reply(`ERROR ${encodeArg((e as Error).message)}`);
        }
      }
      case 'QUIT':
        this.killAll();
        reply('OK');
        sock.end();
        setTimeout(() => this.shutdown('QUIT command'), 100);
        return;
      default: return reply(`ERROR ${encodeArg(`unknown command '${verb}'`)}`);
    }
  }
}

