// Worker processes of one node: started per job (they run the job's code, in its working
// directory, with its loader), kept warm and reused. Each worker's stdout/stderr goes to
// its log file and to the driver that owns the job.
import { fork, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { newWorkerId, type ActorId, type JobId, type LeaseId, type NodeId, type WorkerId } from "../src/ids.js";
import type { EnvVars, JobInfo, Resources, WorkerEnv } from "../src/protocol.js";
import type { AgentToWorker, WorkerToAgent } from "../src/rpc/messages.js";
import { workerEnv } from "../src/cluster/daemon.js";
import { setting } from "../src/config.js";
import { socketPath, splitAddress } from "../src/rpc/local-socket.js";
import { moveWorker, type WorkerEvent, type WorkerState } from "./worker-states.js";

/** A worker's lifecycle (states, moves, picture) is in worker-states.ts; moveWorker() is its only writer. */
export type { WorkerState } from "./worker-states.js";

export interface Worker {
  id: WorkerId;
  jobId: JobId;
  /** Which extra environment variables (a task's or actor's runtimeEnv.envVars) it started with: "" for none (envKey). */
  envKey: string;
  proc: ChildProcess;
  pid: number;
  state: WorkerState;
  /** Its last moves (worker-states.ts). */
  story: WorkerEvent[];
  address?: string;
  leaseId?: LeaseId;
  /** The wire address of the lease's owner. */
  leaseOwner?: string;
  allocated?: Resources;
  blocked?: boolean;
  actorId?: ActorId;
  /** Owners pushing work to it over open connections, as the worker last reported. */
  owners: Set<string>;
  ready: Promise<void>;
}

const workerMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/worker/entry.js");

export interface PoolContext {
  nodeId: NodeId;
  token: string;
  host: string;
  headAddress: string;
  agentAddress: string;
  transferAddress: string;
  storeDir: string;
  logDir: string;
  onLines(jobId: JobId, lines: Array<{ err: boolean; text: string }>): void;
  onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void;
  /** Owners that had pushed work to the worker closed their connections (they exited, or dropped it). */
  onOwnersGone(w: Worker, gone: string[]): void;
  /** The worker is about to exit: code it ran threw where nothing caught it. */
  onUncaught(w: Worker, error: { name: string; message: string; stack: string }): void;
}

/**
 * A worker process for the job, which loads its modules and then waits for its identity (an
 * "env" message, sent by WorkerPool.start). An embedded cluster's agent forks its job's first
 * worker this way before it loads its own modules, so the two start-ups overlap.
 */
export function forkWorker(job: Pick<JobInfo, "cwd" | "execArgv" | "envVars">, envVars?: EnvVars): ChildProcess {
  // A driver on another machine may have a cwd and loader paths that do not exist here.
  const cwd = fs.existsSync(job.cwd) ? job.cwd : process.cwd();
  return fork(workerMain, [], {
    // HELIOS_WORKER_NODE_FLAGS: extra node flags for workers (profiling, --inspect).
    cwd, execArgv: [...loaderArgs(job.execArgv), ...setting("HELIOS_WORKER_NODE_FLAGS")],
    stdio: ["pipe", "pipe", "pipe", "ipc"], serialization: "advanced",
    // msgpackr's native string extractor pays off only for large string-heavy messages and
    // costs each worker ~1–4 MB of resident memory; the user may turn it back on.
    // The job's runtimeEnv.envVars, then the task's or actor's own (options.ts refuses HELIOS_* and NODE_OPTIONS).
    env: { MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true", ...workerEnv(process.env), ...job.envVars, ...envVars },
  });
}

export class WorkerPool {
  readonly workers = new Map<WorkerId, Worker>();
  constructor(private ctx: PoolContext) {}

  /** An idle worker of the job started with these extra variables, else one still starting that nobody has claimed yet. */
  idleFor(jobId: JobId, key = ""): Worker | undefined {
    let starting: Worker | undefined;
    for (const w of this.workers.values()) {
      if (w.jobId !== jobId || w.envKey !== key) continue;
      if (w.state === "idle") return w;
      if (w.state === "starting") starting ??= w;
    }
    return starting;
  }

  countFor(jobId: JobId, states: WorkerState[]): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.jobId === jobId && states.includes(w.state)) n++;
    return n;
  }

  /** Start a worker of the job (with a task's extra variables): in a process of its own, or in one forkWorker() started earlier. */
  start(job: JobInfo, forked?: ChildProcess, envVars?: EnvVars): Worker {
    const proc = forked ?? forkWorker(job, envVars);
    const id = newWorkerId();
    const env: WorkerEnv = { workerId: id, nodeId: this.ctx.nodeId, jobId: job.jobId, namespace: job.namespace,
      token: this.ctx.token, headAddress: this.ctx.headAddress, agentAddress: this.ctx.agentAddress,
      transferAddress: this.ctx.transferAddress, storeDir: this.ctx.storeDir, host: this.ctx.host,
      driverWorkingDir: job.workingDir && job.workingDir !== job.cwd ? job.workingDir : undefined };
    proc.send({ t: "env", env } satisfies AgentToWorker);
    let resolveReady!: () => void;
    const w: Worker = { id, jobId: job.jobId, envKey: envKey(envVars), proc, pid: proc.pid!, state: "starting", story: [], owners: new Set(), ready: new Promise((r) => (resolveReady = r)) };
    this.workers.set(id, w);
    const log = fs.createWriteStream(path.join(this.ctx.logDir, `worker-${id}-${proc.pid}.log`));
    const forward = (err: boolean) => (d: Buffer) => {
      log.write(d);
      this.ctx.onLines(job.jobId, [{ err, text: d.toString() }]);
    };
    proc.stdout!.on("data", forward(false));
    proc.stderr!.on("data", forward(true));
    proc.on("message", (m: WorkerToAgent) => {
      if (m?.t === "ready") { w.address = m.address; if (w.state === "starting") moveWorker(w, "idle", "ready"); resolveReady(); }
      else if (m?.t === "owners") { w.owners = new Set(m.owners); if (m.gone.length) this.ctx.onOwnersGone(w, m.gone); }
      else if (m?.t === "uncaught") this.ctx.onUncaught(w, m.error);
    });
    // A message to a worker that is exiting fails (ERR_IPC_CHANNEL_CLOSED): its 'exit' follows and settles what it was asked.
    proc.on("error", () => {});
    const exited = (code: number | null, signal: NodeJS.Signals | null) => {
      moveWorker(w, "dead", "exited");
      this.workers.delete(id);
      log.end();
      removeSocketFile(w, false);
      resolveReady();
      this.ctx.onExit(w, code, signal);
    };
    // A process forked earlier may have exited already (its 'exit' has gone by).
    if (proc.exitCode !== null || proc.signalCode !== null) setImmediate(() => exited(proc.exitCode, proc.signalCode));
    else proc.on("exit", exited);
    return w;
  }

  kill(id: WorkerId): boolean {
    const w = this.workers.get(id);
    if (!w) return false;
    w.proc.kill("SIGKILL");
    return true;
  }

  /**
   * Workers die with their agent. With HELIOS_WORKER_NODE_FLAGS (profiling) they get to exit on
   * their own. Killed ones' socket files go now: the agent exits before their 'exit' events.
   */
  killAll(): void {
    const gentle = setting("HELIOS_WORKER_NODE_FLAGS").length > 0;
    for (const w of this.workers.values()) {
      if (gentle) { w.proc.disconnect(); continue; }
      w.proc.kill("SIGKILL");
      removeSocketFile(w, true);
    }
  }
}

/** A worker killed by a signal could not remove its Unix socket file: its agent does (`now`: synchronously, as the agent exits). */
function removeSocketFile(w: Worker, now: boolean): void {
  const file = w.address ? socketPath(...splitAddress(w.address)) : null;
  if (!file) return;
  if (now) { try { fs.rmSync(file, { force: true }); } catch { /* gone */ } } else fs.rm(file, { force: true }, () => {});
}

/** Names a set of extra environment variables: "" for none, else a hash of its sorted entries. */
export function envKey(vars: EnvVars | undefined): string {
  if (!vars) return "";
  const names = Object.keys(vars).sort();
  if (!names.length) return "";
  return createHash("sha256").update(JSON.stringify(names.map((k) => [k, vars[k]]))).digest("base64url");
}

/** Flags that take a value in the next argument, when written without "=". */
const WITH_VALUE = new Set(["--require", "-r", "--import", "--loader", "--experimental-loader", "--conditions", "-C",
  "--max-old-space-size", "--stack-size", "--disable-warning"]);
/** Driver flags workers may share: module loaders and resolution, memory and warnings. Never
 *  -e/--eval/-p/--input-type (a worker would run the driver's script), --test, --watch or --inspect. */
const SHARED = /^(--require|-r|--import|--loader|--experimental-loader|--conditions|-C|--enable-source-maps|--max-old-space-size|--stack-size|--expose-gc|--no-warnings|--no-deprecation|--disable-warning|--experimental-(?!test)[\w-]+)(=|$)/;

/** The driver's node flags that make sense for workers, minus loaders whose files are not on this machine. */
function loaderArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = WITH_VALUE.has(a) && i + 1 < argv.length ? argv[++i] : undefined;
    if (!SHARED.test(a)) continue;
    if (value === undefined) { out.push(a); continue; }
    const file = value.startsWith("file://") ? fileURLToPath(value) : value;
    if (!path.isAbsolute(file) || fs.existsSync(file)) out.push(a, value);
  }
  return out;
}
