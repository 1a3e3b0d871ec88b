// The states of an actor on the head, the moves between them, and what moves it. The state
// strings are those of ActorInfo (src/protocol.ts): callers and `listActors` read them.
//
//   created            placed
//  ─────────► PENDING ─────────────────────────► ALIVE
//                │  worker-died, node-died          ▲  │  worker-died, node-died
//                │  (a restart left)         placed │  │  (a restart left)
//                └─────────────────────► RESTARTING ◄──┘
//                                          │    ▲
//                                          └────┘  worker-died, node-died while it starts again (a restart left)
//
//   PENDING, RESTARTING ──► DEAD   unschedulable, constructor-threw, start-failed, killed, owner-died,
//                                  worker-died or node-died with no restart left
//   ALIVE ──────────────► DEAD   killed, owner-died, worker-died or node-died with no restart left
//
// `PENDING`: created, its first worker is being placed and its constructor run. `ALIVE`: its
// constructor returned; callers reach it at `address`. `RESTARTING`: its worker or node was lost
// and it is being placed again (each move into it spends one of maxRestarts; -1 is no limit).
// `DEAD`: for good, `death` says why; a name it held may be taken again.
import { HeliosError } from "../src/errors.js";
import type { ActorState } from "../src/protocol.js";
import type { ActorId } from "../src/ids.js";

export type { ActorState } from "../src/protocol.js";

/** What moved an actor: each transition names one. */
export type ActorStimulus =
  | "created"             // → PENDING: createActor
  | "placed"              // PENDING/RESTARTING → ALIVE: its constructor returned in a worker
  | "unschedulable"       // → DEAD: no node can ever hold its resources
  | "constructor-threw"   // → DEAD: a user error, final
  | "start-failed"        // → DEAD: the agent refused to start it for another reason (its job unknown)
  | "worker-died"         // → RESTARTING, or DEAD with no restart left: its worker exited
  | "node-died"           // → RESTARTING, or DEAD with no restart left: its node died or cannot be reached
  | "killed"              // → DEAD: kill()
  | "owner-died";         // → DEAD: its owner (driver or worker) is gone (fate sharing, owners.ts)

/** What may end an actor's life from a state that is not ALIVE yet. */
const UNSTARTED_DEATHS: readonly ActorStimulus[] =
  ["unschedulable", "constructor-threw", "start-failed", "worker-died", "node-died", "killed", "owner-died"];
const LOSSES: readonly ActorStimulus[] = ["worker-died", "node-died"];

/** Where an actor may go from each state, and on which stimuli; anything else is an IllegalActorTransitionError. */
export const ACTOR_TRANSITIONS: Readonly<Record<ActorState, Readonly<Partial<Record<ActorState, readonly ActorStimulus[]>>>>> = {
  PENDING: { ALIVE: ["placed"], RESTARTING: LOSSES, DEAD: UNSTARTED_DEATHS },
  ALIVE: { RESTARTING: LOSSES, DEAD: ["worker-died", "node-died", "killed", "owner-died"] },
  RESTARTING: { ALIVE: ["placed"], RESTARTING: LOSSES, DEAD: UNSTARTED_DEATHS },
  DEAD: {},
};

/** May an actor in `from` move to `to` on `stimulus`? */
export function allowed(from: ActorState, to: ActorState, stimulus: ActorStimulus): boolean {
  return ACTOR_TRANSITIONS[from][to]?.includes(stimulus) === true;
}

/** One move of an actor, as its story keeps it (in the head's memory, not on disk). */
export interface ActorEvent {
  from?: ActorState;
  to: ActorState;
  stimulus: ActorStimulus;
  /** Date.now() when it moved. */
  time: number;
  /** Where it runs, on a move to ALIVE. */
  node?: string;
  worker?: string;
  /** The death's error name, on a move to RESTARTING or DEAD. */
  error?: string;
}

/** Moves an actor's story keeps. */
export const ACTOR_STORY_LENGTH = 8;

/** The head moved an actor in a way its lifecycle does not allow: a bug in Helios, with the actor's story. */
export class IllegalActorTransitionError extends HeliosError {
  constructor(readonly actorId: ActorId, readonly from: ActorState, readonly to: ActorState, readonly stimulus: ActorStimulus,
    readonly story: readonly ActorEvent[]) {
    super(`actor ${actorId} cannot go from ${from} to ${to} on ${stimulus}: not in the actor lifecycle's table (head/actor-states.ts). ` +
      `This is a bug in Helios. Its story:\n${formatActorStory(story)}`);
  }
}

/** A story as lines "+<ms> from → to (stimulus) node worker error", times relative to its first move. */
export function formatActorStory(story: readonly ActorEvent[]): string {
  if (story.length === 0) return "  (no transitions since the head started)";
  const t0 = story[0].time;
  return story.map((e) => `  +${e.time - t0}ms ${e.from ?? "(new)"} → ${e.to} (${e.stimulus})` +
    (e.node ? ` node ${e.node}` : "") + (e.worker ? ` worker ${e.worker}` : "") + (e.error ? ` ${e.error}` : "")).join("\n");
}
