// The head's watch of one driver, from the moment it registers its job until the head decides it is
// gone (owners.ts then ends its job and kills its actors) or stops watching (the head closes).
// The head holds a wire connection to every driver and pings it: the kernel closes the connection
// however the driver ends, and a driver that answers no ping for HELIOS_DRIVER_TIMEOUT_MS (its
// link is cut) counts as gone too. move() is the only writer of a watch's state.
//
//    watch                  connected
//  ───────► connecting ─────────────────► connected
//             │   ▲  ▲                        │
//             │   │  └──────── closed ────────┘  (a new connection at once)
//  connect-   │   │ retry
//  failed     ▼   │ (the next tick)
//            unreachable
//
//   connecting ──refused──► gone                               nothing listens at its address: its process exited
//   connecting, connected, unreachable ──timed-out──► gone     no answer naming its job for HELIOS_DRIVER_TIMEOUT_MS
//   connecting, connected, unreachable ──not-it─────► gone     another process answers at its address
//   connecting, connected, unreachable ──stopped────► stopped  the head stopped watching
//
// `connecting`: a connection is being made (the driver listens before it registers its job, so a
// refusal means its process is gone). `connected`: it is pinged every tick; an answer naming its
// job is the only thing that keeps it from timing out (lastSeen), in any state. `unreachable`: a
// connection failed without a refusal; the next tick tries again. `gone`: the verdict, given once
// (`gone(why)`); `stopped`: no verdict. Both are final: the timer is cleared and the connection closed.
import { lifecycleLog } from "../src/lifecycle-log.js";
import { connect, type Connection } from "../src/rpc/wire.js";
import type { JobInfo } from "../src/protocol.js";
import { ConnectionClosedError, HeliosError } from "../src/errors.js";
import type { JobId } from "../src/ids.js";
import { setting } from "../src/config.js";

export type DriverWatchState = "connecting" | "connected" | "unreachable" | "gone" | "stopped";

/** What moved a watch: each transition names one. */
export type DriverWatchStimulus =
  | "watch"            // → connecting: the driver registered its job
  | "connected"        // connecting → connected
  | "closed"           // connected → connecting: the connection closed; a new one is made at once
  | "connect-failed"   // connecting → unreachable: not refused (the next tick tries again)
  | "retry"            // unreachable → connecting: a tick
  | "refused"          // connecting → gone: nothing listens at its address
  | "timed-out"        // → gone: no ping answered for the timeout
  | "not-it"           // → gone: another process answers at its address
  | "stopped";         // → stopped: stop()

const ENDS: Readonly<Partial<Record<DriverWatchState, readonly DriverWatchStimulus[]>>> = { gone: ["timed-out", "not-it"], stopped: ["stopped"] };

/** Where a watch may go from each state, and on which stimuli; anything else is an IllegalDriverWatchTransitionError. */
export const DRIVER_WATCH_TRANSITIONS: Readonly<Record<DriverWatchState, Readonly<Partial<Record<DriverWatchState, readonly DriverWatchStimulus[]>>>>> = {
  connecting: { connected: ["connected"], unreachable: ["connect-failed"], ...ENDS, gone: ["refused", "timed-out", "not-it"] },
  connected: { connecting: ["closed"], ...ENDS },
  unreachable: { connecting: ["retry"], ...ENDS },
  gone: {},
  stopped: {},
};

/** States in which the watch still watches. */
const LIVE: Readonly<Record<DriverWatchState, boolean>> = { connecting: true, connected: true, unreachable: true, gone: false, stopped: false };

export interface DriverWatchEvent { from?: DriverWatchState; to: DriverWatchState; stimulus: DriverWatchStimulus; time: number }

/** Moves a watch's story keeps. */
export const DRIVER_WATCH_STORY_LENGTH = 8;

/** The head moved a driver's watch in a way its lifecycle does not allow: a bug in Helios, with the watch's story. */
export class IllegalDriverWatchTransitionError extends HeliosError {
  constructor(readonly jobId: JobId, readonly from: DriverWatchState, readonly to: DriverWatchState, readonly stimulus: DriverWatchStimulus,
    readonly story: readonly DriverWatchEvent[]) {
    super(`the watch of job ${jobId}'s driver cannot go from ${from} to ${to} on ${stimulus}: not in the driver watch lifecycle's table ` +
      `(head/driver-watch.ts). This is a bug in Helios. Its story:\n${formatWatchStory(story)}`);
  }
}

export function formatWatchStory(story: readonly DriverWatchEvent[]): string {
  if (story.length === 0) return "  (no transitions)";
  const t0 = story[0].time;
  return story.map((e) => `  +${e.time - t0}ms ${e.from ?? "(new)"} → ${e.to} (${e.stimulus})`).join("\n");
}

/** The connection a watch uses: a wire connection, or a test's fake. */
export type WatchConnection = Pick<Connection, "request" | "once" | "close">;

/** What a watch uses of the world; tests pass fakes (a clock they move, a timer they fire, connections they play). */
export interface DriverWatchDeps {
  connect(address: string, token: string): Promise<WatchConnection>;
  now(): number;
  /** Call `tick` every `ms`; returns what cancels it. */
  every(ms: number, tick: () => void): () => void;
  /** How long a driver may leave the pings unanswered before it is gone. */
  timeoutMs: number;
}

/** How long a driver may leave the head's pings unanswered before its job counts as ended. */
const DRIVER_TIMEOUT_MS = setting("HELIOS_DRIVER_TIMEOUT_MS");

const REAL: DriverWatchDeps = {
  connect,
  now: Date.now,
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
  timeoutMs: DRIVER_TIMEOUT_MS,
};

export class DriverWatch {
  state: DriverWatchState = "connecting";
  readonly story: DriverWatchEvent[] = [];
  private conn?: WatchConnection;
  /** When it last answered a ping as the driver of its job (it has just registered it). */
  private lastSeen: number;
  private cancelTimer: () => void;

  constructor(private job: JobInfo, private token: string, private gone: (why: string) => void, private deps: DriverWatchDeps = REAL) {
    this.lastSeen = deps.now();
    this.story.push({ to: "connecting", stimulus: "watch", time: this.lastSeen });
    this.cancelTimer = deps.every(Math.max(100, Math.min(2000, deps.timeoutMs / 4)), () => this.tick());
    this.connect();
  }

  /** Move to `to` on `stimulus`, or throw IllegalDriverWatchTransitionError; the move joins the story. The only writer of `state`. */
  move(to: DriverWatchState, stimulus: DriverWatchStimulus): void {
    const from = this.state;
    if (DRIVER_WATCH_TRANSITIONS[from][to]?.includes(stimulus) !== true) {
      throw new IllegalDriverWatchTransitionError(this.job.jobId, from, to, stimulus, this.story);
    }
    this.state = to;
    if (this.story.length >= DRIVER_WATCH_STORY_LENGTH) this.story.shift();
    const time = this.deps.now();
    this.story.push({ from, to, stimulus, time });
    lifecycleLog.push({ kind: "driver-watch", id: this.job.jobId, from, to, stimulus, time });
  }

  private tick(): void {
    if (!LIVE[this.state]) return;
    if (this.deps.now() - this.lastSeen > this.deps.timeoutMs) {
      return this.end("timed-out", `it answered nothing for ${Math.round(this.deps.timeoutMs / 1000)} s (HELIOS_DRIVER_TIMEOUT_MS)`);
    }
    if (this.state === "unreachable") {
      this.move("connecting", "retry");
      return this.connect();
    }
    if (this.state !== "connected") return;   // connecting: its outcome moves it
    const notIt = () => this.end("not-it", `another process listens at its address ${this.job.driverAddress}`);
    this.conn!.request({ t: "ping" }).then((r) => {
      if (r?.jobId === this.job.jobId) this.lastSeen = this.deps.now(); else notIt();
    }, (e) => { if (!(e instanceof ConnectionClosedError)) notIt(); });
  }

  /** Make a connection (the state is `connecting`). */
  private connect(): void {
    this.deps.connect(this.job.driverAddress, this.token).then((conn) => {
      if (!LIVE[this.state]) return conn.close();
      this.conn = conn;
      this.move("connected", "connected");
      conn.once("close", () => {
        if (this.conn !== conn) return;
        this.conn = undefined;
        if (this.state !== "connected") return;   // gone or stopped: closed on purpose
        this.move("connecting", "closed");
        this.connect();
      });
      this.tick();
    }, (e: NodeJS.ErrnoException) => {
      if (!LIVE[this.state]) return;
      if (e.code === "ECONNREFUSED") this.end("refused", "its process exited");
      else this.move("unreachable", "connect-failed");
    });
  }

  /** The verdict, once: the driver is gone. */
  private end(stimulus: "refused" | "timed-out" | "not-it", why: string): void {
    if (!LIVE[this.state]) return;
    this.move("gone", stimulus);
    this.release();
    this.gone(why);
  }

  /** Stop watching, without a verdict. */
  stop(): void {
    if (LIVE[this.state]) this.move("stopped", "stopped");
    this.release();
  }

  private release(): void {
    this.cancelTimer();
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
  }
}
