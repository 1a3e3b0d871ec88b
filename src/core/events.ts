// Lifecycle events of this process, kept for a shipper to take: every transition of a task
// (and, later, of an actor or an object) is one small record in a bounded ring. When the ring
// is full the oldest record is overwritten and counted in `dropped`, so an absent or slow
// shipper costs a bounded amount of memory and never blocks the code that emits.
//
// Cost on the hot path: one object per event (shared with the task's story, see
// tasks/task-manager.ts), an array store and two integer updates. Times are numbers (ms since
// the epoch, fractional) from performance.now(), never Date objects, read once per burst.
import type { JobId, NodeId, TaskId, WorkerId } from "../ids.js";
import type { Stimulus, TaskState } from "./tasks/task-states.js";

/** One transition of a task on its owner. */
export interface TaskEvent {
  readonly kind: "task";
  readonly id: TaskId;
  /** 1 for the first run; a retry or a reconstruction runs attempt 2, 3, … */
  readonly attempt: number;
  /** The state entered, and the one left (undefined when the task was created). */
  readonly state: TaskState;
  readonly from: TaskState | undefined;
  /** What moved it (a reply, a lost worker, a cancel, …). */
  readonly stimulus: Stimulus;
  /** Milliseconds since the epoch, fractional (see eventTime()). */
  readonly time: number;
  readonly job: JobId;
  readonly name: string;
  /** Where it was pushed, once it was. */
  readonly node: NodeId | undefined;
  readonly worker: WorkerId | undefined;
  /** The error's name, when the transition is a failure. */
  readonly errorType: string | undefined;
}

/** Every kind of event the ring carries (actors and objects to come). */
export type HeliosEvent = TaskEvent;

const ORIGIN = performance.timeOrigin;
// Reading the clock costs ~80 ns here, as much as the rest of an event: events made in one
// synchronous run (a frame of replies, a loop of submits) share a reading, renewed every
// CLOCK_USES events and at the next microtask checkpoint, so a time is late by at most the
// work of a few tasks in a burst and exact otherwise.
const CLOCK_USES = 16;
let clock = 0;
let uses = 0;
const expire = (): void => { uses = 0; };

/** Now, in fractional milliseconds since the epoch: e.g. eventTime() - ev.time is an event's age in ms. */
export function eventTime(): number {
  if (uses === 0) {
    clock = ORIGIN + performance.now();
    queueMicrotask(expire);
    uses = CLOCK_USES;
  } else if (--uses === 0) {   // used up within one run: read afresh now
    clock = ORIGIN + performance.now();
    uses = CLOCK_USES;   // the microtask queued earlier still expires it
  }
  return clock;
}

/** A bounded ring: push() overwrites the oldest entry when full and counts it in `dropped`. */
export class EventRing<E> {
  private buf: Array<E | undefined>;
  /** Index of the oldest entry, and how many entries are held. */
  private head = 0;
  private count = 0;
  /** Entries overwritten before anyone drained them, since the ring was made. */
  dropped = 0;

  constructor(readonly capacity = 10_000) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError(`an event ring holds at least one entry, got ${capacity}`);
    this.buf = new Array(capacity).fill(undefined);
  }

  get size(): number { return this.count; }

  push(e: E): void {
    const cap = this.capacity;
    if (this.count < cap) {
      let i = this.head + this.count++;
      if (i >= cap) i -= cap;
      this.buf[i] = e;
      return;
    }
    this.buf[this.head] = e;   // full: the oldest goes
    if (++this.head === cap) this.head = 0;
    this.dropped++;
  }

  /** Take every held entry, oldest first, and empty the ring (`dropped` keeps counting). */
  drain(): E[] {
    const out = new Array<E>(this.count);
    for (let k = 0; k < this.count; k++) {
      let i = this.head + k;
      if (i >= this.capacity) i -= this.capacity;
      out[k] = this.buf[i]!;
      this.buf[i] = undefined;
    }
    this.head = 0;
    this.count = 0;
    return out;
  }
}

/**
 * This process's lifecycle events, waiting for a shipper (the observability work's feed to the
 * head). 1,000 until a shipper drains it: events held longer outlive the young generation, and
 * with 10,000 held the driver spent measurably more CPU per task on garbage collection.
 */
export const processEvents = new EventRing<HeliosEvent>(1_000);
