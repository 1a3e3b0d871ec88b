// The states of an object on its owner, the moves between them, and what moves it.
//
//     submitted                 resolved
//   ───────────► pending ──────────────────────────► ready ◄─────────────┐
//                  │ │         failed                 │ │               │ resolved
//                  │ └──────────────────► failed      │ │ copy-lost      │
//     put ─────────┼──────────────────────────────────┘ │ (rebuilt) or   │
//                  │                                    │ sibling-lost   │
//     revived      │                      copy-lost     ▼               │
//   ───────────────┼─────────────────────► reconstructing ──────────────┘
//                  │        lost ◄────────  (no rebuild)  ──► failed (resolved with an error)
//                  │         └─ sibling-lost ──► reconstructing
//                  │
//   any state ── dropped (no ref, pin or escaped copy left) ──► freed
//
// `pending`: a task return not made yet. `ready`: its value is here (inline) or in a node's
// store. `failed`: its task failed; the error is its value. `lost`: its only stored copy went
// with a node and it cannot be made again (a put(), or a task without retries): get() throws
// ObjectLostError. `reconstructing`: its task runs again from its lineage recipe (the copy was
// lost, a sibling return was, or a freed return is wanted as a re-run's input). `freed`: no
// handle, pin or escaped copy is left; the entry leaves the table and its bytes are dropped.
import { HeliosError } from "../../errors.js";

export type ObjectState = "pending" | "ready" | "failed" | "lost" | "reconstructing" | "freed";

/** What moved an object: each transition names one. */
export type ObjectStimulus =
  | "submitted"      // → pending: a task with this return was submitted
  | "put"            // → ready: put() made it
  | "revived"        // → reconstructing: a freed task return is wanted again (a re-run's input)
  | "resolved"       // pending/reconstructing → ready or failed: its task answered
  | "copy-lost"      // ready → reconstructing (rebuilt from lineage) or lost (cannot be)
  | "sibling-lost"   // ready/lost → reconstructing: its task runs again for another of its returns
  | "dropped";       // → freed

/** Settled objects: get() and wait() stop waiting for them. */
export const SETTLED: Readonly<Record<ObjectState, boolean>> = {
  pending: false, reconstructing: false, ready: true, failed: true, lost: true, freed: true,
};

/** Where an object may go from each state; anything else is an IllegalObjectTransitionError. */
export const OBJECT_TRANSITIONS: Readonly<Record<ObjectState, Readonly<Partial<Record<ObjectState, true>>>>> = {
  pending: { ready: true, failed: true, freed: true },
  reconstructing: { ready: true, failed: true, freed: true },
  ready: { reconstructing: true, lost: true, freed: true },
  // A sibling of a failed return is never rebuilt (a recipe is kept only for tasks that
  // finished), but a task's returns are reset together: allowed, so that it is never a crash.
  failed: { reconstructing: true, freed: true },
  lost: { reconstructing: true, freed: true },
  freed: {},
};

/** An owner moved an object in a way its lifecycle does not allow: a bug in Helios. */
export class IllegalObjectTransitionError extends HeliosError {
  constructor(readonly objectId: string, readonly from: ObjectState, readonly to: ObjectState, readonly stimulus: ObjectStimulus) {
    super(`object ${objectId} cannot go from ${from} to ${to} (${stimulus}): not in the object lifecycle's table ` +
      "(src/core/objects/object-states.ts). This is a bug in Helios.");
  }
}
