// Lifecycle events of a process's tables that move per actor, lease, worker or connection (not
// per task): the head's actors and driver watches, an agent's leases and workers, a caller's
// connections to actors. Each transition is one small record in a bounded ring, for the
// observability work to ship or serve; when full the oldest goes and is counted in `dropped`.
// The owner's per-task and per-object events have their own allocation-free ring
// (src/core/events.ts): these are rare enough to be objects.

/** One transition of an actor, lease, worker, driver watch or actor connection. */
export interface LifecycleEvent {
  readonly kind: "actor" | "lease" | "worker" | "driver-watch" | "actor-connection";
  /** The actor, lease, worker or job id (a lease still waiting: "waiting:<job>"). */
  readonly id: string;
  readonly from: string | undefined;
  readonly to: string;
  readonly stimulus: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly node?: string;
  readonly worker?: string;
  /** The error's name, when the move is a death or a failure. */
  readonly error?: string;
}

export class LifecycleLog {
  private buf: Array<LifecycleEvent | undefined>;
  private head = 0;
  private count = 0;
  /** Events overwritten before anyone drained them. */
  dropped = 0;

  constructor(readonly capacity = 10_000) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError(`a lifecycle log holds at least one event, got ${capacity}`);
    this.buf = new Array(capacity).fill(undefined);
  }

  get size(): number { return this.count; }

  push(e: LifecycleEvent): void {
    if (this.count < this.capacity) {
      this.buf[(this.head + this.count++) % this.capacity] = e;
      return;
    }
    this.buf[this.head] = e;   // full: the oldest goes
    this.head = (this.head + 1) % this.capacity;
    this.dropped++;
  }

  /** Take every held event, oldest first. */
  drain(): LifecycleEvent[] {
    const out = new Array<LifecycleEvent>(this.count);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % this.capacity;
      out[k] = this.buf[i]!;
      this.buf[i] = undefined;
    }
    this.head = 0;
    this.count = 0;
    return out;
  }
}

/** This process's log (each daemon and each driver or worker has its own). */
export const lifecycleLog = new LifecycleLog();
