// Caller side of actor calls: calls go straight to the actor's worker over one connection
// per actor, sent in submission order (per-caller sequence numbers), many in flight.
import type { Connection } from "../rpc/wire.js";
import { ActorDiedError, fromErrorInfo, toErrorInfo, type ErrorInfo } from "../errors.js";
import type { ActorInfo, TaskReply, TaskSpec } from "../protocol.js";
import type { ActorId } from "../ids.js";
import type { CoreWorker } from "./core-worker.js";

interface InFlight { spec: TaskSpec; done: (r: TaskReply) => void; attempts: number }

interface CallerState {
  /** Resolves once the creation request reached the head (actors created here). */
  created?: Promise<unknown>;
  conn?: Promise<Connection>;
  chain: Promise<void>;
  seq: number;
  dead?: Error;
  nodeId?: string;
  /** Sent and not answered, in send order: replayed (maxTaskRetries) or failed if the actor is lost. */
  inflight: InFlight[];
  /** Calls in flight when the actor was lost are settled before anything new is sent. */
  replay?: Promise<void>;
  maxTaskRetries: number;
}

export class ActorCaller {
  private actors = new Map<ActorId, CallerState>();
  readonly callerId: string;

  constructor(private core: CoreWorker) {
    this.callerId = core.config.workerId;
    core.onNodeDeath((nodeId) => {   // the TCP connection may hang on a cut link: close it
      for (const s of this.actors.values()) if (s.nodeId === nodeId) s.conn?.then((c) => c.close(), () => {});
    });
  }

  private state(id: ActorId): CallerState {
    let s = this.actors.get(id);
    if (!s) this.actors.set(id, s = { chain: Promise.resolve(), seq: 0, inflight: [], maxTaskRetries: 0 });
    return s;
  }

  created(id: ActorId, p: Promise<unknown>): void { this.state(id).created = p; }

  /** Queue a call: `prepare` resolves the arguments; sends stay in call order. */
  call(id: ActorId, prepare: () => Promise<TaskSpec>, done: (r: TaskReply) => void, maxTaskRetries = 0): void {
    const s = this.state(id);
    s.maxTaskRetries = maxTaskRetries;
    s.chain = s.chain.then(async () => {
      let spec: TaskSpec;
      try {
        spec = await prepare();
        await s.replay;
        await this.send(id, s, { spec, done, attempts: 1 });
      } catch (e) { done({ error: toErrorInfo(e) }); }
    });
  }

  private async send(id: ActorId, s: CallerState, call: InFlight): Promise<void> {
    const conn = await this.connect(id, s);
    const spec = call.spec;
    spec.actor!.seq = s.seq++;
    spec.actor!.callerId = this.callerId;
    const sent: Set<string> = (conn.state.fns ??= new Set());
    if (spec.fn && sent.has(spec.fnId)) spec.fn = undefined; else sent.add(spec.fnId);
    this.core.track(1);
    s.inflight.push(call);
    conn.request<TaskReply>({ t: "push", task: spec }).then((r) => {
      const i = s.inflight.indexOf(call);
      if (i < 0) return;
      s.inflight.splice(i, 1);
      this.core.track(-1);
      call.done(r);
    }, () => { /* the connection closed: lost() settles it */ });
  }

  /** The connection to the actor closed with calls in flight: replay them in order, or fail them. */
  private lost(id: ActorId, s: CallerState): void {
    const calls = s.inflight.splice(0);
    if (!calls.length) return;
    this.core.track(-calls.length);
    const previous = s.replay;
    s.replay = (async () => {
      await previous;
      const error = await this.lostCallError(id, calls.map((c) => c.spec.name).join(", "));
      for (const call of calls) {
        if (error.name === "ActorUnavailableError" && call.attempts <= s.maxTaskRetries) {
          call.attempts++;
          try { await this.send(id, s, call); } catch (e) { call.done({ error: toErrorInfo(e) }); }
        } else call.done({ error });
      }
    })();
  }

  private async connect(id: ActorId, s: CallerState): Promise<Connection> {
    if (s.dead) throw s.dead;
    if (!s.conn) {
      s.conn = (async () => {
        // getIfExists: the head may have answered with another (existing) actor's id.
        const created = await s.created as ActorInfo | undefined;
        const target = created?.actorId ?? id;
        for (let attempt = 0; ; attempt++) {
          const info = await this.core.head.call<ActorInfo>("waitActor", { actorId: target });
          if (info.state === "DEAD") throw deadError(info);
          s.nodeId = info.nodeId;
          try {
            const conn = await this.core.connection(info.address!);
            conn.once("close", () => { s.conn = undefined; this.lost(id, s); });
            return conn;
          } catch (e) {
            // Refused: the worker is gone. Restarting (the head will say), or dead.
            const settled = await this.core.head.call<ActorInfo>("waitActorSettled", { actorId: target }).catch(() => undefined);
            if (attempt >= 5 || !settled || settled.state === "DEAD") {
              throw new ActorDiedError(`actor ${info.className} (${id}) is unreachable at ${info.address}: ${(e as Error).message}`, { cause: e });
            }
          }
        }
      })();
      s.conn.catch((e) => { s.conn = undefined; if (e instanceof ActorDiedError) s.dead = e; });
    }
    return s.conn;
  }

  /** A call in flight when the actor's worker went away: did the actor die, or is it coming back? */
  private async lostCallError(id: ActorId, call: string): Promise<ErrorInfo> {
    const info = await this.core.head.call<ActorInfo>("waitActorSettled", { actorId: id }).catch(() => undefined);
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

