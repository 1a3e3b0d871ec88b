// The node's memory monitor, as in Ray: a few times per second it reads how much memory the
// node uses and, past the threshold, kills one worker so that the rest of the node (the agent,
// the other workers, the object store) keeps running. The owner of the killed task learns why
// from the agent (`workerFate`) and retries it like a crash; an actor's callers get
// ActorDiedError whose cause is OutOfMemoryError.
//
// Two limits, whichever is passed first:
//  - HELIOS_MEMORY_THRESHOLD (default 0.95): the machine's used memory (MemTotal − MemAvailable
//    of /proc/meminfo) as a fraction of MemTotal;
//  - HELIOS_MEMORY_LIMIT_BYTES (unset by default): the resident memory (VmRSS) of this node's
//    workers together — a per-node budget, and what tests use to get a small node.
// HELIOS_MEMORY_MONITOR_MS (default 250) is the sampling period; 0 turns the monitor off.
import * as fs from "node:fs";
import type { ErrorInfo } from "../src/errors.js";
import { setting } from "../src/config.js";

export interface MemoryConfig {
  /** Fraction of the machine's memory in use above which a worker is killed. */
  threshold: number;
  /** Bytes of worker RSS on this node above which a worker is killed. */
  limitBytes?: number;
  /** Sampling period in ms; 0: off. */
  periodMs: number;
}

/** The configuration from the environment; a bad value fails the agent's start with what to write instead. */
export function memoryConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MemoryConfig {
  return {
    threshold: setting("HELIOS_MEMORY_THRESHOLD", env),
    limitBytes: setting("HELIOS_MEMORY_LIMIT_BYTES", env),
    periodMs: setting("HELIOS_MEMORY_MONITOR_MS", env),
  };
}

/** A worker the monitor may kill: one running tasks under a lease, or an actor's. */
export interface Candidate {
  pid: number;
  kind: "task" | "actor";
  /** When it was given its current work (lease granted, actor started), ms since the epoch. */
  since: number;
}

/**
 * Ray's choice of victim: retriable work first, and of that the newest, so that older work can
 * finish. Owners keep the retry budgets, so the agent counts task workers as retriable (tasks
 * retry by default) and actors as not (they restart only with maxRestarts).
 * `pickVictim([{ pid: 1, kind: "task", since: 10 }, { pid: 2, kind: "task", since: 20 }])` → pid 2.
 */
export function pickVictim(candidates: Candidate[]): Candidate | undefined {
  const rank = (c: Candidate) => (c.kind === "task" ? 0 : 1);
  return [...candidates].sort((a, b) => rank(a) - rank(b) || b.since - a.since)[0];
}

/** MemTotal and MemAvailable of /proc/meminfo, in bytes; undefined where there is no /proc. */
export function readMeminfo(file = "/proc/meminfo"): { total: number; available: number } | undefined {
  let text: string;
  try { text = fs.readFileSync(file, "utf8"); } catch { return undefined; }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) * 1024;
  const total = kb("MemTotal"), available = kb("MemAvailable");
  return Number.isFinite(total) && Number.isFinite(available) ? { total, available } : undefined;
}

/** Resident memory of a process in bytes (VmRSS), or 0 when it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

export interface MemoryMonitorHost {
  nodeId: string;
  /** Every worker process of the node (their RSS counts against the per-node limit). */
  workerPids(): number[];
  candidates(): Candidate[];
  /** Kill this worker; `fate` is what its owner and callers will be told. */
  kill(pid: number, fate: ErrorInfo): void;
}

export class MemoryMonitor {
  private timer?: NodeJS.Timeout;
  /** The last victim, until it has exited: one kill at a time, as its memory takes a moment to return. */
  private killing?: number;
  kills = 0;

  constructor(private config: MemoryConfig, private host: MemoryMonitorHost) {}

  start(): void {
    if (this.config.periodMs <= 0 || !readMeminfo()) return;   // off, or no /proc on this system
    this.timer = setInterval(() => this.check(), this.config.periodMs);
    this.timer.unref();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); }

  /** One sample: past a limit, kill the best victim (if any) and say why. */
  check(): void {
    if (this.killing !== undefined && rssOf(this.killing) > 0) return;
    this.killing = undefined;
    const why = this.pressure();
    if (!why) return;
    const victim = pickVictim(this.host.candidates());
    if (!victim) return;   // only idle workers: nothing whose loss frees memory for good
    const rss = rssOf(victim.pid);
    this.killing = victim.pid;
    this.kills++;
    this.host.kill(victim.pid, { name: "OutOfMemoryError", message:
      `was killed by the memory monitor of node ${this.host.nodeId} (worker pid ${victim.pid} used ${mib(rss)}): ${why}. ` +
      "Tip: use less memory per task, run fewer at once (reserve it with the memory option, or raise numCpus), " +
      "or give the node more room (HELIOS_MEMORY_LIMIT_BYTES / HELIOS_MEMORY_THRESHOLD)." });
  }

  /** Why the node is over its limit, or undefined when it is not. */
  private pressure(): string | undefined {
    const { limitBytes, threshold } = this.config;
    if (limitBytes !== undefined) {
      const used = this.host.workerPids().reduce((s, pid) => s + rssOf(pid), 0);
      if (used > limitBytes) return `the node's workers used ${mib(used)} of its ${mib(limitBytes)} limit (HELIOS_MEMORY_LIMIT_BYTES)`;
    }
    const m = readMeminfo();
    if (m && (m.total - m.available) / m.total > threshold) {
      return `the machine used ${mib(m.total - m.available)} of its ${mib(m.total)} memory, above the threshold of ${threshold} (HELIOS_MEMORY_THRESHOLD)`;
    }
    return undefined;
  }
}

const mib = (bytes: number) => `${Math.round(bytes / (1 << 20))} MiB`;
