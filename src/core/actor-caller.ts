// Caller side of actor calls: calls go straight to the actor's worker over one connection
// per actor, sent in submission order (per-caller sequence numbers), many in flight. The
// connection's lifecycle (unconnected, connecting, open, replaying, dead) is pictured in
// actor-connection.ts; it moves on connection events only, never per call.
import type { Connection } from "../rpc/wire.js";
import { ActorDiedError, ConnectionClosedError, PendingCallsLimitExceededError, fromErrorInfo, toErrorInfo, type ErrorInfo } from "../errors.js";
import type { ActorInfo, TaskReply, TaskSpec } from "../protocol.js";
import type { ActorId } from "../ids.js";
import type { CoreWorker } from "./core-worker.js";
import { connectionEvent, moveConnection, newCallerState, type CallerState, type InFlight } from "./actor-connection.js";

/** How long an actor may stay listed at an address that refuses connections before its callers give up on it. */
const STALE_ADDRESS_MS = 60_000;

/** What the caller uses of its core worker (tests pass a fake). */
export type ActorCallerHost = Pick<CoreWorker, "config" | "head" | "onNodeDeath" | "track" | "connection">;

export class ActorCaller {
  private actors = new Map<ActorId, CallerState>();
  readonly callerId: string;

  constructor(private core: ActorCallerHost) {
    this.callerId = core.config.workerId;
    core.onNodeDeath((nodeId) => {   // the TCP connection may hang on a cut link: close it (not one being made to a new node)
      for (const s of this.actors.values()) if (s.open?.nodeId === nodeId) s.open.conn.close();
    });
  }

  private state(id: ActorId): CallerState {
    let s = this.actors.get(id);
    if (!s) this.actors.set(id, s = newCallerState(id));
    return s;
  }

  created(id: ActorId, p: Promise<unknown>): void { this.state(id).created = p; }

  /** What this process keeps of its calls to an actor (its connection's state and story), for diagnosis. */
  inspect(id: ActorId): Readonly<CallerState> | undefined { return this.actors.get(id); }

  /**
   * Refuse a call before anything of it is made when this process already has `max` calls to the
   * actor submitted and not answered (maxPendingCalls; undefined or -1: no limit).
   */
  admit(id: ActorId, className: string, max: number | undefined): void {
    if (max === undefined || max < 0) return;
    const pending = this.actors.get(id)?.pending ?? 0;
    if (pending >= max) {
      throw new PendingCallsLimitExceededError(`actor ${className} (${id}) has ${pending} calls submitted and not answered, ` +
        `its limit (maxPendingCalls: ${max}). Tip: wait for some results (get() or wait()) before submitting more, or raise maxPendingCalls.`);
    }
  }

  /** Queue a call: `prepare` resolves the arguments; sends stay in call order. */
  call(id: ActorId, prepare: () => Promise<TaskSpec>, answered: (r: TaskReply) => void, maxTaskRetries = 0): void {
    const s = this.state(id);
    s.maxTaskRetries = maxTaskRetries;
    s.pending++;
    let settled = false;
    const done = (r: TaskReply) => { if (!settled) { settled = true; s.pending--; } answered(r); };
    s.chain = s.chain.then(async () => {
      try {
        const spec = await prepare();
        // Behind the calls being replayed, including those lost while this one waited for its connection.
        for (;;) {
          while (s.replay) await s.replay;
          const conn = await this.connect(id, s);
          if (s.state === "open" && !conn.closed) { this.send(s, conn, { spec, done, attempts: 1 }); break; }
        }
      } catch (e) { done({ error: toErrorInfo(e) }); }
    });
  }

  private send(s: CallerState, conn: Connection, call: InFlight): void {
    const spec = call.spec;
    spec.actor!.seq = s.seq++;
    spec.actor!.callerId = this.callerId;
    const sent: Set<string> = (conn.state.fns ??= new Set());
    if (spec.fn && sent.has(spec.fnId)) spec.fn = undefined; else sent.add(spec.fnId);
    this.core.track(1);
    s.inflight.add(call);
    conn.call({ t: "push", task: spec }, (e, r) => {
      if (e) return;   // the connection closed: lost() settles it
      if (!s.inflight.delete(call)) return;
      this.core.track(-1);
      call.done(r);
    });
  }

  /** The connection to the actor closed: replay the calls it had in flight, in order, or fail them. */
  private lost(id: ActorId, s: CallerState): void {
    if (s.inflight.size === 0) return connectionEvent(s, "unconnected", "closed");
    const calls = [...s.inflight];
    s.inflight.clear();
    this.core.track(-calls.length);
    s.losses++;
    s.lostCalls = calls.concat(s.lostCalls);   // sent before any call still waiting to be replayed
    const replaying = s.state === "replaying";
    moveConnection(s, "replaying", "lost");
    if (!replaying) s.replay = this.replay(id, s);
  }

  /** Settle lost calls oldest first; a loss during the replay puts its calls back in front, under a new verdict. */
  private async replay(id: ActorId, s: CallerState): Promise<void> {
    try {
      while (s.lostCalls.length) {
        const losses = s.losses;
        const error = await this.lostCallError(id, s.lostCalls.map((c) => c.spec.name).join(", "));
        while (s.lostCalls.length && s.losses === losses) {
          const call = s.lostCalls[0];
          if (error.name !== "ActorUnavailableError" || (s.maxTaskRetries >= 0 && call.attempts > s.maxTaskRetries)) {
            s.lostCalls.shift();
            call.done({ error });
            continue;
          }
          let conn: Connection;
          try { conn = await this.connect(id, s); } catch (e) {
            s.lostCalls.shift();
            call.done({ error: toErrorInfo(e) });
            continue;
          }
          if (s.losses !== losses || conn.closed) break;
          s.lostCalls.shift();
          call.attempts++;
          this.send(s, conn, call);
        }
      }
    } finally {
      // Ended in the microtask its last call was settled in: a loss from now on starts a new replay.
      s.replay = undefined;
      if (s.state === "replaying") moveConnection(s, s.open ? "open" : "unconnected", "replayed");
    }
  }

  /** The connection to the actor: the one up, the one being made, or a new one. */
  private async connect(id: ActorId, s: CallerState): Promise<Connection> {
    if (s.state === "dead") throw s.dead!;
    if (!s.conn) {
      connectionEvent(s, "connecting", "connect");
      s.conn = this.open(id, s);
      s.conn.catch((e) => {
        s.conn = undefined;
        if (e instanceof ActorDiedError) {
          s.dead = e;
          moveConnection(s, "dead", "actor-died");
        } else {
          connectionEvent(s, "unconnected", "connect-failed");
        }
      });
    }
    return s.conn;
  }

  /** Ask the head where the actor is (waiting while it is placed or restarts), and connect there. */
  private async open(id: ActorId, s: CallerState): Promise<Connection> {
    // getIfExists: the head may have answered with another (existing) actor's id.
    const created = await s.created as ActorInfo | undefined;
    const target = created?.actorId ?? id;
    let stale = { address: undefined as string | undefined, since: 0 };
    for (;;) {
      const info = await this.core.head.call("waitActor", { actorId: target });
      if (info.state === "DEAD") throw deadError(info);
      let conn: Connection;
      try {
        conn = await this.core.connection(info.address!);
        if (conn.closed) throw new ConnectionClosedError();
      } catch (e) {
        // Refused: the worker is gone. Restarting (the head will say), or dead.
        const settled = await this.core.head.call("waitActorSettled", { actorId: target }).catch(() => undefined);
        // Still listed there: its node may have died, which the head learns within its health window.
        if (stale.address !== info.address) stale = { address: info.address, since: Date.now() };
        if (!settled || settled.state === "DEAD" || Date.now() - stale.since > STALE_ADDRESS_MS) {
          throw new ActorDiedError(`actor ${info.className} (${id}) is unreachable at ${info.address}: ${(e as Error).message}`, { cause: e });
        }
        continue;
      }
      s.open = { conn, nodeId: info.nodeId };
      connectionEvent(s, "open", "connected");
      conn.once("close", () => { if (s.open?.conn === conn) s.open = undefined; s.conn = undefined; this.lost(id, s); });
      return conn;
    }
  }

  /** A call in flight when the actor's worker went away: did the actor die, or is it coming back? */
  private async lostCallError(id: ActorId, call: string): Promise<ErrorInfo> {
    const info = await this.core.head.call("waitActorSettled", { actorId: id }).catch(() => undefined);
    if (info && info.state !== "DEAD") {
      return { name: "ActorUnavailableError", message: `actor ${info.className} (${id}) restarted while ${call} was in flight; ` +
        "the call may or may not have run. Later calls go to the restarted actor. Tip: maxTaskRetries replays such calls." };
    }
    return { name: "ActorDiedError", message: `actor ${id} died while ${call} was in flight: ${info?.death?.message ?? "its worker process exited"}`,
      cause: info?.death };
  }
}

export function deadError(info: ActorInfo): ActorDiedError {
  const cause = info.death ? fromErrorInfo(info.death) : undefined;
  return new ActorDiedError(`actor ${info.className} (${info.actorId}) is dead: ${info.death?.message ?? "unknown cause"}`, { cause });
}

