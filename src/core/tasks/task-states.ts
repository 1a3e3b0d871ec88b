// The states of a task on its owner, the moves between them, and what moves it.
//
//   submitted                args-ready                 pushed
//  ──────────► resolving ─────────────────────► queued ──────────► pushed ─┬─ replied ──────────► finished
//                ▲  │                          ▲  ▲  ▲                     ├─ replied (an error) ► failed
//  inputs-pinned │  ├─ args-failed ► failed    │  │  └─ handed-back, ──────┤
//                │  └─ cancel ─────► cancelled │  │     lease-lost         ├─ replied (cancelled),
//                │                             │  │                        │  handed-back after a
//   object-lost  │      args-ready (no refs)   │  │ retry                  │  cancel ──────────► cancelled
//  ──────────► reconstructing ─────────────────┘  │                        ├─ argument-lost ───► resolving
//                 └─ input-lost ► failed          │                        └─ exception-retried,
//                                                 └─────── retrying ◄───────  worker-lost
//                                                            ├─ worker-lost (no retry left) ► failed
//                                                            └─ cancel ─────────────────────► cancelled
//   queued ─ unschedulable ► failed        queued ─ cancel ► cancelled
//
//   cancel: resolving, queued ──► cancelled at once; pushed, retrying ──► cancelled when the
//   worker answers, or is gone (its death is then the cancel's doing, not retried).
//   An actor call skips the queue (its actor's connection is its queue): resolving ──► pushed
//   (actor-call-sent); its replays after an actor restart are the actor caller's (maxTaskRetries).
//
// `resolving`: its ref arguments are being located (or rebuilt). `queued`: waiting in the
// submitter for a leased worker. `pushed`: sent to a worker; the oldest pushed on a lease is the
// one running (the owner is not told when a worker starts a task, so there is no `running`).
// `retrying`: the attempt failed in a way that may be retried (worker or node lost, an exception
// retryExceptions names) and the next attempt is decided (for a lost worker, once its agent says
// why it died). `reconstructing`: a new attempt of a finished task whose stored return was lost,
// made from its lineage recipe (lineage.ts); a finished record is never revived.
// `finished`, `failed`, `cancelled`: ended; the record leaves the manager.
import { HeliosError } from "../../errors.js";
import type { TaskEvent } from "../events.js";

export type TaskState =
  | "resolving" | "queued" | "pushed" | "retrying" | "reconstructing"
  | "finished" | "failed" | "cancelled";

/** What moved a task: each transition names one. */
export type Stimulus =
  | "submitted"          // → resolving: a new task
  | "object-lost"        // → reconstructing: a stored return of a finished task was lost
  | "args-ready"         // resolving/reconstructing → queued
  | "args-failed"        // resolving → failed: an argument resolved to an error
  | "inputs-pinned"      // reconstructing → resolving: its inputs are live refs again
  | "input-lost"         // reconstructing → failed: a freed input cannot be made again
  | "actor-call-sent"    // resolving → pushed (actor calls)
  | "pushed"             // queued → pushed
  | "handed-back"        // pushed → queued: its worker blocked in get() before starting it
  | "lease-lost"         // pushed → queued: its worker went away before starting it
  | "replied"            // pushed → finished/failed/cancelled
  | "exception-retried"  // pushed → retrying: a user exception that retryExceptions names
  | "worker-lost"        // pushed → retrying, retrying → failed: its worker or node died
  | "retry"              // retrying → queued: the next attempt
  | "argument-lost"      // pushed → resolving: an argument's stored copy was lost
  | "unschedulable"      // queued → failed: no lease can be had for its shape
  | "cancel";            // → cancelled

export const TERMINAL: Readonly<Record<TaskState, boolean>> = {
  resolving: false, queued: false, pushed: false, retrying: false, reconstructing: false,
  finished: true, failed: true, cancelled: true,
};

/** Where a task may go from each state; anything else is an IllegalTransitionError. */
export const TRANSITIONS: Readonly<Record<TaskState, Readonly<Partial<Record<TaskState, true>>>>> = {
  resolving: { queued: true, pushed: true, failed: true, cancelled: true },
  // Never seen by a cancel: a reconstruction leaves this state in the call that made it.
  reconstructing: { resolving: true, queued: true, failed: true },
  queued: { pushed: true, failed: true, cancelled: true },
  pushed: { queued: true, retrying: true, resolving: true, finished: true, failed: true, cancelled: true },
  retrying: { queued: true, failed: true, cancelled: true },
  finished: {},
  failed: {},
  cancelled: {},
};

/** The states a task is created in. */
export const INITIAL: Readonly<Partial<Record<TaskState, true>>> = { resolving: true, reconstructing: true };

/** An owner moved a task in a way its lifecycle does not allow: a bug in Helios, with the task's story. */
export class IllegalTransitionError extends HeliosError {
  constructor(readonly taskId: string, readonly from: TaskState | undefined, readonly to: TaskState, readonly story: readonly TaskEvent[]) {
    super(`task ${taskId} cannot go from ${from ?? "(new)"} to ${to}: not in the task lifecycle's table (src/core/tasks/task-states.ts). ` +
      `This is a bug in Helios. Its story:\n${formatStory(story)}`);
  }
}

/** A story as lines "+<ms> from → to (stimulus) attempt node worker error", times relative to its first event. */
export function formatStory(story: readonly TaskEvent[]): string {
  if (story.length === 0) return "  (no transitions)";
  const t0 = story[0].time;
  return story.map((e) => `  +${(e.time - t0).toFixed(1)}ms ${e.from ?? "(new)"} → ${e.state} (${e.stimulus}) attempt ${e.attempt}` +
    (e.node ? ` node ${e.node}` : "") + (e.worker ? ` worker ${e.worker}` : "") + (e.errorType ? ` ${e.errorType}` : "")).join("\n");
}
