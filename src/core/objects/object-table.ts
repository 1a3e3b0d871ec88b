// The objects this process owns: one entry per object, moved only by transition() (the
// lifecycle in object-states.ts). An entry keeps the object's value or error, what waits for
// it, and what keeps it alive (pins of pending tasks, a copy sent to another process); the
// handles in this process are counted by object-ref.ts and reported through dropped(). The
// bytes of values are the value storage's (value-storage.ts), reached through the host, as are
// the lineage decisions (rebuild a lost object, forget a freed one's recipe).
//
// Each transition is one event in the process's event ring (events.ts), linked to the
// object's previous one.
import { eventTime, processEvents, NO_EVENT, type EventRing, type ObjectEvent } from "../events.js";
import { IllegalObjectTransitionError, OBJECT_TRANSITIONS, SETTLED, type ObjectState, type ObjectStimulus } from "./object-states.js";
import type { ErrorInfo } from "../../errors.js";
import type { NodeId, ObjectId, TaskId } from "../../ids.js";
import type { WireValue } from "../../protocol.js";

export type Outcome = { value: WireValue } | { error: ErrorInfo };

export interface ObjectEntry {
  /** Written by ObjectTable.transition() only. */
  readonly state: ObjectState;
  /** Set when ready. */
  value?: WireValue;
  /** Set when failed or lost. */
  error?: ErrorInfo;
  /** Called once it settles (made on first wait: most objects are never waited for unsettled). */
  waiters?: Waiter | Waiter[];
  /** Pending tasks that take this object as an argument. */
  pins: number;
  /** A ref to it was sent to another process; kept until this owner exits. */
  escaped: boolean;
  /** The task that makes it (undefined for a put()). */
  task?: TaskId;
  /** The sequence number of its last event in the event ring. */
  lastEvent: number;
}

export type Waiter = (o: ObjectEntry) => void;

/** What the table asks of the rest of the owner. */
export interface ObjectTableHost {
  /** Whether a live ObjectRef handle to `id` exists in this process. */
  hasRef(id: ObjectId): boolean;
  /** A stored value nobody will read: let its bytes go. */
  discard(id: ObjectId, value: WireValue): void;
  /** A stored value of `size` bytes became owned here (the owner collects garbage past a budget). */
  stored(size: number): void;
  /** Run again the task that made a lost object; false when it cannot be (no recipe, no retry left). */
  reconstruct(task: TaskId, lostNode: NodeId): boolean;
  /** An owned task return was freed: its lineage may go. */
  freed(id: ObjectId, task: TaskId): void;
}

export class ObjectTable {
  private entries = new Map<ObjectId, ObjectEntry>();

  constructor(private host: ObjectTableHost, private events: EventRing = processEvents) {}

  get(id: ObjectId): ObjectEntry | undefined { return this.entries.get(id); }
  has(id: ObjectId): boolean { return this.entries.has(id); }
  get size(): number { return this.entries.size; }
  values(): IterableIterator<ObjectEntry> { return this.entries.values(); }
  isReady(id: ObjectId): boolean {
    const o = this.entries.get(id);
    return o !== undefined && SETTLED[o.state];
  }
  taskOf(id: ObjectId): TaskId | undefined { return this.entries.get(id)?.task; }

  // ---- the one writer of an object's state --------------------------------------------------

  private transition(id: ObjectId, o: ObjectEntry, to: ObjectState, stimulus: ObjectStimulus): void {
    const from = o.state;
    if (OBJECT_TRANSITIONS[from][to] !== true) throw new IllegalObjectTransitionError(id, from, to, stimulus);
    (o as { state: ObjectState }).state = to;
    this.record(id, o, from, stimulus);
  }

  private record(id: ObjectId, o: ObjectEntry, from: ObjectState | undefined, stimulus: ObjectStimulus): void {
    const v = o.value;
    o.lastEvent = this.events.object(id, o.state, from, stimulus, eventTime(), v === undefined ? 0 : "s" in v ? v.s : v.v.byteLength,
      v !== undefined && "s" in v ? v.node : undefined, o.error?.name, o.lastEvent);
  }

  private create(id: ObjectId, state: "pending" | "ready" | "reconstructing", stimulus: ObjectStimulus, task: TaskId | undefined, value?: WireValue): ObjectEntry {
    const o: ObjectEntry = { state, value, error: undefined, waiters: undefined, pins: 0, escaped: false, task, lastEvent: NO_EVENT };
    this.entries.set(id, o);
    if (value !== undefined && "s" in value) this.host.stored(value.s);
    this.record(id, o, undefined, stimulus);
    return o;
  }

  /** The transitions of an object still held in the event ring (at most `max`), oldest first. */
  story(id: ObjectId, max = 8): ObjectEvent[] {
    const o = this.entries.get(id);
    return o ? this.events.chain(o.lastEvent, max) as ObjectEvent[] : [];
  }

  // ---- what the owner asks ------------------------------------------------------------------

  /** A task return, pending until its task answers. */
  pending(id: ObjectId, task: TaskId): void { this.create(id, "pending", "submitted", task); }

  /** A value put() made (or a large task argument), ready at once. */
  put(id: ObjectId, value: WireValue): void { this.create(id, "ready", "put", undefined, copiedOut(value)); }

  /** A freed task return is wanted again (a re-run's input): it is made again by its task. */
  revive(id: ObjectId, task: TaskId): void {
    if (!this.entries.has(id)) this.create(id, "reconstructing", "revived", task);
  }

  /** Its task answered (or a put completed). An object dropped meanwhile is not wanted: its bytes go. */
  resolve(id: ObjectId, outcome: Outcome): void {
    const o = this.entries.get(id);
    if (!o) {
      if ("value" in outcome && "s" in outcome.value) this.host.discard(id, outcome.value);
      return;
    }
    if ("value" in outcome) {
      o.value = copiedOut(outcome.value);
      if ("s" in o.value) this.host.stored(o.value.s);
      this.transition(id, o, "ready", "resolved");
    } else {
      o.error = outcome.error;
      this.transition(id, o, "failed", "resolved");
    }
    wake(o);
  }

  /**
   * The stored copy of an owned object could not be read from `node` (or that node died). A
   * task's return is made again by re-running the task; a put() has no lineage, so its loss is
   * final: ObjectLostError. True while the object is (being) made again or was moved since
   * (callers wait for it, or read it again, as for any object).
   */
  lost(id: ObjectId, node: NodeId): boolean {
    const o = this.entries.get(id);
    if (!o) return false;
    if (!SETTLED[o.state]) return true;   // being made already
    if (o.state !== "ready") return false;
    if (!("s" in o.value!) || o.value.node !== node) return true;   // moved on since: read it again
    // The task runs again; it resets its returns (this one included) through reset().
    if (o.task && this.host.reconstruct(o.task, node)) {
      if (o.state === "ready") { o.value = undefined; this.transition(id, o, "reconstructing", "copy-lost"); }
      return true;
    }
    o.value = undefined;
    o.error = { name: "ObjectLostError", message: o.task
      ? `object ${id} was lost with node ${node} and cannot be rebuilt: the task that made it has no retries left (maxRetries). Tip: raise maxRetries on that task.`
      : `object ${id} was made by put() and its only copy was on node ${node}, which is gone; a put() value cannot be rebuilt. Tip: keep the process that put it, or make the value in a task so it can be re-run.` };
    this.transition(id, o, "lost", "copy-lost");
    wake(o);
    return false;
  }

  /** The task that made this object runs again (for a sibling's loss or its own): pending until the new reply. */
  reset(id: ObjectId, lostNode: NodeId): void {
    const o = this.entries.get(id);
    if (!o || !SETTLED[o.state]) return;
    const v = o.value;
    if (v && "s" in v && v.node !== lostNode) this.host.discard(id, v);   // a sibling return's copy elsewhere
    o.value = undefined;
    o.error = undefined;
    this.transition(id, o, "reconstructing", "sibling-lost");
  }

  /**
   * Call `f` once an owned object settles (at once if it has): a callback, not a promise, so
   * watching 100k objects costs 100k closures. Returns what stops the watch (before it fired),
   * or undefined if this process does not own the object.
   */
  whenSettled(id: ObjectId, f: () => void): (() => void) | undefined {
    const o = this.entries.get(id);
    if (!o) return undefined;
    if (SETTLED[o.state]) { f(); return () => {}; }
    addWaiter(o, f);
    return () => {
      const w = o.waiters;
      if (w === f) o.waiters = undefined;
      else if (Array.isArray(w)) { const i = w.indexOf(f); if (i >= 0) w.splice(i, 1); }
    };
  }

  // ---- what keeps an object alive --------------------------------------------------------------

  pin(id: ObjectId): void { const o = this.entries.get(id); if (o) o.pins++; }
  unpin(id: ObjectId): void {
    const o = this.entries.get(id);
    if (o && --o.pins === 0) this.maybeFree(id, o);
  }
  /** A ref to it left this process: kept until this owner exits. */
  escaped(id: ObjectId): void { const o = this.entries.get(id); if (o) o.escaped = true; }
  /** The last handle to it in this process was collected. */
  dropped(id: ObjectId): void {
    const o = this.entries.get(id);
    if (o) this.maybeFree(id, o);
  }

  private maybeFree(id: ObjectId, o: ObjectEntry): void {
    if (o.pins > 0 || o.escaped || this.host.hasRef(id)) return;
    this.entries.delete(id);
    const v = o.value;
    this.transition(id, o, "freed", "dropped");
    if (v && "s" in v) this.host.discard(id, v);
    if (o.task) this.host.freed(id, o.task);
  }
}

/** Settled (ready, failed, lost; or freed, which no one waits on). */
export const settled = (o: ObjectEntry): boolean => SETTLED[o.state];

/** A waiter is called once, when the object settles (one function, or a list of them). */
export function addWaiter(o: ObjectEntry, f: Waiter): void {
  const w = o.waiters;
  if (w === undefined) o.waiters = f;
  else if (typeof w === "function") o.waiters = [w, f];
  else w.push(f);
}

function wake(o: ObjectEntry): void {
  const w = o.waiters;
  if (!w) return;
  o.waiters = undefined;
  if (typeof w === "function") w(o);
  else for (const f of w) f(o);
}

/**
 * An inline value that arrived in a message is a view of the bytes read with it: copy a small
 * one out, so that keeping it does not keep the whole read (wire.ts decodes bin as a view).
 */
function copiedOut(value: WireValue): WireValue {
  return "v" in value && value.v.buffer.byteLength > 2 * value.v.byteLength + 4096 ? { v: Buffer.from(value.v) } : value;
}
