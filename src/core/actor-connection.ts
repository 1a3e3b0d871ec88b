// The caller side's lifecycle of its connection to one actor (actor-caller.ts): the states, the
// moves between them, and what moves it. moveConnection() is the only writer of the state.
//
//                  connect                connected                lost
//  unconnected ──────────────► connecting ────────────► open ───────────────► replaying ◄─┐ connect, connected,
//   ▲   ▲   ▲                    │    │                  │ ▲                   │  │  │    │ connect-failed,
//   │   │   └── connect-failed ──┘    │ actor-died       │ └───── replayed ────┘  │  └────┘ closed, lost
//   │   │                             ▼                  │                        │
//   │   │                            dead ◄──────────────┼─────── actor-died ─────┤
//   │   └────────────── closed ──────────────────────────┘                        │
//   └─────────────────── replayed (no connection left) ───────────────────────────┘
//
// `unconnected`: no connection, none being made (at first; after a close with nothing in flight;
// after a failed attempt, which fails the calls that waited for it: the next call tries again).
// `connecting`: the head is asked where the actor is (waiting while it is placed or restarts) and a
// connection made; calls wait for it, in order. `open`: calls are sent on it as they come, many in
// flight. `replaying`: the connection closed with calls in flight; they are settled oldest first —
// replayed on a new connection (the actor restarted, maxTaskRetries not spent) or failed — and
// nothing new is sent until they are, so that no call overtakes them. The connection comes and
// goes inside it: a loss during the replay puts its calls back in front. `dead`: the head says the
// actor is dead, or it stayed unreachable; every call fails with that error. Final.
//
// The state moves on connection events, never per call: a call reads it once before its send, a reply not at all.
import { lifecycleLog } from "../lifecycle-log.js";
import { HeliosError } from "../errors.js";
import type { Connection } from "../rpc/wire.js";
import type { TaskReply, TaskSpec } from "../protocol.js";
import type { ActorId } from "../ids.js";

export type ActorConnectionState = "unconnected" | "connecting" | "open" | "replaying" | "dead";

/** What moved a caller's connection to an actor: each transition names one. */
export type ActorConnectionStimulus =
  | "connect"          // → connecting: a call or the replay needs a connection and none is up or being made
  | "connected"        // connecting → open: the connection is up
  | "connect-failed"   // connecting → unconnected: the attempt failed, not because the actor is dead
  | "actor-died"       // → dead: the head says it is dead, or it stayed unreachable
  | "closed"           // open → unconnected: the connection closed with nothing in flight
  | "lost"             // open → replaying: the connection closed with calls in flight
  | "replayed";        // replaying → open or unconnected: every lost call is settled

/** Where a caller's connection may go from each state, and on which stimuli; anything else is an IllegalActorConnectionTransitionError. */
export const ACTOR_CONNECTION_TRANSITIONS: Readonly<Record<ActorConnectionState,
  Readonly<Partial<Record<ActorConnectionState, readonly ActorConnectionStimulus[]>>>>> = {
  unconnected: { connecting: ["connect"] },
  connecting: { open: ["connected"], unconnected: ["connect-failed"], dead: ["actor-died"] },
  open: { unconnected: ["closed"], replaying: ["lost"] },
  replaying: { replaying: ["connect", "connected", "connect-failed", "closed", "lost"], open: ["replayed"], unconnected: ["replayed"], dead: ["actor-died"] },
  dead: {},
};

export interface ActorConnectionEvent { from?: ActorConnectionState; to: ActorConnectionState; stimulus: ActorConnectionStimulus; time: number }

/** Moves a connection's story keeps. */
export const ACTOR_CONNECTION_STORY_LENGTH = 8;

/** A call sent and not answered yet. */
export interface InFlight { spec: TaskSpec; done: (r: TaskReply) => void; attempts: number }

/** What a caller keeps of one actor. */
export interface CallerState {
  readonly actorId: ActorId;
  /** Written by moveConnection() only. */
  state: ActorConnectionState;
  story: ActorConnectionEvent[];
  /** Resolves once the creation request reached the head (actors created here). */
  created?: Promise<unknown>;
  /** The connection being made, or made (connecting, open; in replaying, either or none). */
  conn?: Promise<Connection>;
  /** The connection once it is up, and the node of the actor at its other end. */
  open?: { conn: Connection; nodeId?: string };
  chain: Promise<void>;
  seq: number;
  /** Why it is dead (state `dead`). */
  dead?: Error;
  /** Sent and not answered, in send order: replayed (maxTaskRetries) or failed if the actor is lost. A set: replies settle in O(1), in any order. */
  inflight: Set<InFlight>;
  /** Calls lost with a connection, oldest first, waiting to be replayed or failed. */
  lostCalls: InFlight[];
  /** Bumped on every lost connection. */
  losses: number;
  /** Settles when the replay ends: set in state `replaying` only; calls wait for it. */
  replay?: Promise<void>;
  maxTaskRetries: number;
  /** Calls submitted here and not answered yet (held to the handle's maxPendingCalls). */
  pending: number;
}

export function newCallerState(actorId: ActorId): CallerState {
  return { actorId, state: "unconnected", story: [], chain: Promise.resolve(), seq: 0, inflight: new Set(), lostCalls: [], losses: 0, maxTaskRetries: 0, pending: 0 };
}

/** A caller moved its connection to an actor in a way the lifecycle does not allow: a bug in Helios, with the connection's story. */
export class IllegalActorConnectionTransitionError extends HeliosError {
  constructor(readonly actorId: ActorId, readonly from: ActorConnectionState, readonly to: ActorConnectionState,
    readonly stimulus: ActorConnectionStimulus, readonly story: readonly ActorConnectionEvent[]) {
    super(`the connection to actor ${actorId} cannot go from ${from} to ${to} on ${stimulus}: not in the actor connection lifecycle's table ` +
      `(src/core/actor-connection.ts). This is a bug in Helios. Its story:\n${formatConnectionStory(story)}`);
  }
}

/** Move `s` to `to` on `stimulus`, or throw IllegalActorConnectionTransitionError; the move joins its story. */
export function moveConnection(s: CallerState, to: ActorConnectionState, stimulus: ActorConnectionStimulus): void {
  const from = s.state;
  if (ACTOR_CONNECTION_TRANSITIONS[from][to]?.includes(stimulus) !== true) {
    throw new IllegalActorConnectionTransitionError(s.actorId, from, to, stimulus, s.story);
  }
  s.state = to;
  if (s.story.length >= ACTOR_CONNECTION_STORY_LENGTH) s.story.shift();
  const time = Date.now();
  s.story.push({ from, to, stimulus, time });
  lifecycleLog.push({ kind: "actor-connection", id: s.actorId, from, to, stimulus, time });
}

export function formatConnectionStory(story: readonly ActorConnectionEvent[]): string {
  if (story.length === 0) return "  (no transitions)";
  const t0 = story[0].time;
  return story.map((e) => `  +${e.time - t0}ms ${e.from ?? "(new)"} → ${e.to} (${e.stimulus})`).join("\n");
}

/** A connection event: moves `s` to `to`, except in `replaying`, which the connection's comings and goings do not leave. */
export function connectionEvent(s: CallerState, to: ActorConnectionState, stimulus: ActorConnectionStimulus): void {
  moveConnection(s, s.state === "replaying" ? "replaying" : to, stimulus);
}
