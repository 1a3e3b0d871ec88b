// The states of a worker process on its agent, the moves between them, and what moves it.
// moveWorker() is the only writer of a worker's state (worker-pool.ts, leases.ts, agent.ts).
//
//               ready                 returned
//   starting ──────────► idle ◄─────────────────── leased ──actor-started──► actor
//       │                  │                         ▲
//       │                  └───── claimed ───────────┤
//       └──────────────────────── claimed ───────────┘  (a lease may claim a worker still starting)
//
//   starting, idle, leased, actor ──exited──► dead
//
// `starting`: forked, loading its modules. `idle`: ready, holds no lease. `leased`: claimed for a
// lease (or an actor's start) and holding its resources; granted once it is ready. `actor`: runs
// one actor until it exits. `dead`: its process exited; the pool forgets it.
import { lifecycleLog } from "../src/lifecycle-log.js";
import { HeliosError } from "../src/errors.js";

export type WorkerState = "starting" | "idle" | "leased" | "actor" | "dead";

export type WorkerStimulus = "ready" | "claimed" | "returned" | "actor-started" | "exited";

export const WORKER_TRANSITIONS: Readonly<Record<WorkerState, Readonly<Partial<Record<WorkerState, WorkerStimulus>>>>> = {
  starting: { idle: "ready", leased: "claimed", dead: "exited" },
  idle: { leased: "claimed", dead: "exited" },
  leased: { idle: "returned", actor: "actor-started", dead: "exited" },
  actor: { dead: "exited" },
  dead: {},
};

export interface WorkerEvent { from: WorkerState; to: WorkerState; stimulus: WorkerStimulus; time: number }

/** Moves a worker's story keeps. */
export const WORKER_STORY_LENGTH = 8;

/** What moveWorker() reads and writes of a worker. */
export interface Movable { id: string; state: WorkerState; story: WorkerEvent[] }

/** The agent moved a worker in a way its lifecycle does not allow: a bug in Helios, with the worker's story. */
export class IllegalWorkerTransitionError extends HeliosError {
  constructor(readonly workerId: string, readonly from: WorkerState, readonly to: WorkerState, readonly stimulus: WorkerStimulus,
    readonly story: readonly WorkerEvent[]) {
    super(`worker ${workerId} cannot go from ${from} to ${to} on ${stimulus}: not in the worker lifecycle's table (node-agent/worker-states.ts). ` +
      `This is a bug in Helios. Its story:\n${formatWorkerStory(story)}`);
  }
}

/** Move `w` to `to` on `stimulus`, or throw IllegalWorkerTransitionError; the move joins its story. */
export function moveWorker(w: Movable, to: WorkerState, stimulus: WorkerStimulus): void {
  const from = w.state;
  if (WORKER_TRANSITIONS[from][to] !== stimulus) throw new IllegalWorkerTransitionError(w.id, from, to, stimulus, w.story);
  w.state = to;
  if (w.story.length >= WORKER_STORY_LENGTH) w.story.shift();
  const time = Date.now();
  w.story.push({ from, to, stimulus, time });
  lifecycleLog.push({ kind: "worker", id: w.id, from, to, stimulus, time });
}

export function formatWorkerStory(story: readonly WorkerEvent[]): string {
  if (story.length === 0) return "  (no transitions)";
  const t0 = story[0].time;
  return story.map((e) => `  +${e.time - t0}ms ${e.from} → ${e.to} (${e.stimulus})`).join("\n");
}
