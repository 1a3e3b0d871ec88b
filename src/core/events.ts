// Lifecycle events of this process, kept for a shipper to take: every transition of a task
// (and, later, of an actor or an object) is one entry in a bounded ring. When the ring is full
// the oldest entry is overwritten, and counted in `dropped` if no one had taken it, so an absent
// or slow shipper costs a bounded amount of memory and never blocks the code that emits.
//
// Nothing the ring holds is young: a task is held by its number (its id is made again when
// the event is read), its other strings are constants or live as long as a job or a lease. A
// ring of task id strings had cost ~0.6 µs per task at 65,536 entries, each id surviving two
// scavenges before it was dropped.
//
// The ring is also where a task's story lives: each entry links to the previous entry of the
// same task (by sequence number), and a task record keeps only the number of its last entry.
// A story is therefore the task's transitions still held: the last `capacity` events of the
// process, drained or not.
//
// Cost on the hot path: no allocation. The ring is columns (typed arrays for numbers, arrays
// of strings the task already holds), allocated on the first event; an event is a handful of
// stores. Objects are made only when someone reads: drain(), story(). An object per event,
// held in a ring, had cost the driver ~5 µs of CPU per task in garbage collection (see
// docs/performance.md). Times are numbers (ms since the epoch, fractional) from
// performance.now(), never Date objects, read once per burst.
import { taskIdOf, type JobId, type NodeId, type ObjectId, type TaskId, type WorkerId } from "../ids.js";
import type { Stimulus, TaskState } from "./tasks/task-states.js";
import type { ObjectState, ObjectStimulus } from "./objects/object-states.js";

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

/** One transition of an object on its owner. */
export interface ObjectEvent {
  readonly kind: "object";
  readonly id: ObjectId;
  readonly state: ObjectState;
  readonly from: ObjectState | undefined;
  readonly stimulus: ObjectStimulus;
  readonly time: number;
  /** Its size in bytes once known (0 before). */
  readonly size: number;
  /** The node whose store holds it, when it is stored. */
  readonly node: NodeId | undefined;
  /** The error's name, when it failed or was lost. */
  readonly errorType: string | undefined;
}

/** Every kind of event the ring carries (actors to come). */
export type HeliosEvent = TaskEvent | ObjectEvent;

/** The sequence number of "no event" (a task not yet recorded). */
export const NO_EVENT = -1;

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

const TASK = 0;
const OBJECT = 1;

/** The ring's columns: entry `seq` lives at index seq % capacity. */
interface Columns {
  kind: Uint8Array;
  time: Float64Array;
  prev: Float64Array;
  attempt: Uint32Array;
  /** The task's number (taskIdOf() makes its id); an object's size. */
  task: Float64Array;
  object: Array<ObjectId | undefined>;
  state: Array<TaskState | ObjectState | undefined>;
  from: Array<TaskState | ObjectState | undefined>;
  stimulus: Array<Stimulus | ObjectStimulus | undefined>;
  job: Array<JobId | undefined>;
  name: Array<string | undefined>;
  node: Array<NodeId | undefined>;
  worker: Array<WorkerId | undefined>;
  errorType: Array<string | undefined>;
}

/** A bounded ring of events: the newest `capacity` are held; drain() takes those not yet taken. */
export class EventRing {
  private cols: Columns | undefined;
  /** Sequence number of the next event, and of the oldest one not yet drained. */
  private written = 0;
  private taken = 0;
  /** Events overwritten before anyone drained them, since the ring was made. */
  dropped = 0;

  /** `idOf`: a task's id from its number (this process's ids; tests give their own). */
  constructor(readonly capacity = 65_536, private idOf: (n: number) => TaskId = taskIdOf) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError(`an event ring holds at least one entry, got ${capacity}`);
  }

  /** Events held and not yet drained. */
  get size(): number { return this.written - this.taken; }

  /**
   * Record a transition of a task; returns its sequence number, which the task keeps to link
   * its next one (`prev`: the sequence number of its previous event, or NO_EVENT).
   */
  task(task: number, attempt: number, state: TaskState, from: TaskState | undefined, stimulus: Stimulus, time: number,
    job: JobId, name: string, node: NodeId | undefined, worker: WorkerId | undefined, errorType: string | undefined, prev: number): number {
    const c = this.cols ?? (this.cols = columns(this.capacity));
    const seq = this.written++;
    if (seq - this.taken >= this.capacity) { this.taken++; this.dropped++; }   // full: the oldest untaken goes
    const i = seq % this.capacity;
    c.kind[i] = TASK; c.time[i] = time; c.prev[i] = prev; c.attempt[i] = attempt;
    c.task[i] = task; c.object[i] = undefined; c.state[i] = state; c.from[i] = from; c.stimulus[i] = stimulus;
    c.job[i] = job; c.name[i] = name; c.node[i] = node; c.worker[i] = worker; c.errorType[i] = errorType;
    return seq;
  }

  /** Record a transition of an object; returns its sequence number (`prev` as for task()). */
  object(id: ObjectId, state: ObjectState, from: ObjectState | undefined, stimulus: ObjectStimulus, time: number,
    size: number, node: NodeId | undefined, errorType: string | undefined, prev: number): number {
    const c = this.cols ?? (this.cols = columns(this.capacity));
    const seq = this.written++;
    if (seq - this.taken >= this.capacity) { this.taken++; this.dropped++; }
    const i = seq % this.capacity;
    c.kind[i] = OBJECT; c.time[i] = time; c.prev[i] = prev; c.attempt[i] = 0;
    c.task[i] = size; c.object[i] = id; c.state[i] = state; c.from[i] = from; c.stimulus[i] = stimulus;
    c.job[i] = undefined; c.name[i] = undefined; c.node[i] = node; c.worker[i] = undefined; c.errorType[i] = errorType;
    return seq;
  }

  /** Whether event `seq` is still held (not yet overwritten). */
  holds(seq: number): boolean { return seq >= 0 && seq < this.written && seq >= this.written - this.capacity; }

  /** Event `seq` as an object (it must be held). */
  event(seq: number): HeliosEvent {
    const c = this.cols!;
    const i = seq % this.capacity;
    if (c.kind[i] === OBJECT) {
      return { kind: "object", id: c.object[i]!, state: c.state[i] as ObjectState, from: c.from[i] as ObjectState | undefined,
        stimulus: c.stimulus[i] as ObjectStimulus, time: c.time[i], size: c.task[i], node: c.node[i], errorType: c.errorType[i] };
    }
    return { kind: "task", id: this.idOf(c.task[i]), attempt: c.attempt[i], state: c.state[i] as TaskState, from: c.from[i] as TaskState | undefined,
      stimulus: c.stimulus[i] as Stimulus, time: c.time[i], job: c.job[i]!, name: c.name[i]!, node: c.node[i], worker: c.worker[i], errorType: c.errorType[i] };
  }

  /** The chain of events ending at `last` (following each one's previous), oldest first: at most `max`, those still held. */
  chain(last: number, max: number): HeliosEvent[] {
    const out: HeliosEvent[] = [];
    for (let seq = last; out.length < max && this.holds(seq); seq = this.cols!.prev[seq % this.capacity]) out.push(this.event(seq));
    return out.reverse();
  }

  /** Take every event not yet taken, oldest first (they stay readable by chain() until overwritten). */
  drain(): HeliosEvent[] {
    const out = new Array<HeliosEvent>(this.written - this.taken);
    for (let k = 0; this.taken < this.written; k++) out[k] = this.event(this.taken++);
    return out;
  }
}

function columns(n: number): Columns {
  const refs = <T>(): Array<T | undefined> => new Array<T | undefined>(n).fill(undefined);
  return { kind: new Uint8Array(n), time: new Float64Array(n), prev: new Float64Array(n), attempt: new Uint32Array(n), task: new Float64Array(n), object: refs(), state: refs(), from: refs(),
    stimulus: refs(), job: refs(), name: refs(), node: refs(), worker: refs(), errorType: refs() };
}

/**
 * This process's lifecycle events, waiting for a shipper (the observability work's feed to the
 * head), and the stories of its tasks. Its columns (~2.9 MB) are made on the first event, so a
 * process that owns no task pays nothing.
 */
export const processEvents = new EventRing(65_536);
