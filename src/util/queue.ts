// Queue: a distributed FIFO (Python's queue.Queue / Ray's ray.util.queue.Queue) backed by
// one actor (queue-actor.ts) that parks blocked gets and puts as pending promises.
//
// Passing a queue into tasks and actors: a Queue instance is a *plain object* `{ actor,
// maxsize }` (its methods are non-enumerable own properties), so it serializes like any
// plain object, its actor handle included. The receiving side gets that plain shape back
// and rebuilds the queue with `new Queue(received)` — no new actor is created.
import { get, kill, remote, type ObjectRef, type ActorHandle, type ActorOptions } from "../index.js";
import { HeliosQueue } from "./queue-actor.js";
import { isTaskError } from "./fn.js";

const QueueActor = remote(HeliosQueue);
const BRAND = Symbol.for("helios.util.queue");

/** put() on a full queue that did not block, or whose timeout passed. */
export class Full extends Error {
  constructor(message = "the queue is full", options?: { cause?: unknown }) { super(message, options); this.name = "Full"; }
}

/** get() on an empty queue that did not block, or whose timeout passed. */
export class Empty extends Error {
  constructor(message = "the queue is empty", options?: { cause?: unknown }) { super(message, options); this.name = "Empty"; }
}

export interface QueueOptions {
  /** Items the queue holds before put() blocks; 0 (default) is unbounded. */
  maxsize?: number;
  /** Options for the queue's actor (name, namespace, lifetime, resources…); it takes no CPU by default. */
  actorOptions?: ActorOptions;
}

/** What a queue is made of, and how it arrives in a task: pass it to `new Queue(state)`. */
export interface QueueState {
  actor: ActorHandle<HeliosQueue>;
  maxsize?: number;
}

export interface PutOptions {
  /** Wait for room when full (default true); false throws Full at once. */
  block?: boolean;
  /** Milliseconds to wait for room before Full; default: forever. */
  timeout?: number;
}

export interface GetOptions {
  /** Wait for an item when empty (default true); false throws Empty at once. */
  block?: boolean;
  /** Milliseconds to wait for an item before Empty; default: forever. */
  timeout?: number;
}

/**
 * A FIFO shared by the driver, tasks and actors: `const q = new Queue({ maxsize: 10 }); await q.put(1); await q.get() // 1`
 */
export class Queue<T = unknown> {
  declare readonly actor: ActorHandle<HeliosQueue>;
  declare readonly maxsize: number;

  constructor(options: QueueOptions | QueueState = {}) {
    let actor: ActorHandle<HeliosQueue>;
    let maxsize: number;
    if ("actor" in options && options.actor) {
      actor = options.actor;
      maxsize = options.maxsize ?? 0;
    } else {
      const o = options as QueueOptions;
      maxsize = o.maxsize ?? 0;
      if (!Number.isInteger(maxsize) || maxsize < 0) throw new RangeError(`Queue: maxsize must be a non-negative integer, got ${maxsize}`);
      actor = QueueActor.options({ numCpus: 0, maxConcurrency: 100_000, ...o.actorOptions }).remote(maxsize);
    }
    const self = { actor, maxsize };
    Object.defineProperty(self, BRAND, { value: true });
    for (const name of Object.getOwnPropertyNames(Queue.prototype)) {
      if (name !== "constructor") Object.defineProperty(self, name, { value: (Queue.prototype as any)[name], writable: true, configurable: true });
    }
    return self as unknown as Queue<T>;
  }

  /** True for queues built here and rebuilt from their state. `q instanceof Queue` */
  static [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as any)[BRAND] === true;
  }

  /** Add an item, waiting for room when full (back-pressure): `await q.put(job, { timeout: 1000 })` */
  async put(item: T, options: PutOptions = {}): Promise<void> {
    if (options.block === false) return this.putNowait(item);
    await call(this.actor.put.remote(item, checkTimeout(options.timeout)));
  }

  /** Take the oldest item, waiting for one when empty: `const job = await q.get({ timeout: 1000 })` */
  async get(options: GetOptions = {}): Promise<T> {
    if (options.block === false) return this.getNowait();
    return (await call(this.actor.get.remote(checkTimeout(options.timeout)))) as T;
  }

  /** Add an item or throw Full at once: `await q.putNowait(job)` */
  async putNowait(item: T): Promise<void> {
    await call(this.actor.put.remote(item, 0));
  }

  /** Take an item or throw Empty at once: `const job = await q.getNowait()` */
  async getNowait(): Promise<T> {
    return (await call(this.actor.get.remote(0))) as T;
  }

  /** Add all items at once, or none (Full): `await q.putNowaitBatch([1, 2, 3])` */
  async putNowaitBatch(items: T[]): Promise<void> {
    await call(this.actor.putBatch.remote(items));
  }

  /** Take n items at once, or none (Empty): `const [a, b] = await q.getNowaitBatch(2)` */
  async getNowaitBatch(n: number): Promise<T[]> {
    return (await call(this.actor.getBatch.remote(n))) as T[];
  }

  /** How many items the queue holds: `await q.size()` */
  async size(): Promise<number> {
    return call(this.actor.qsize.remote());
  }

  /** Same as size() (Python's name): `await q.qsize()` */
  async qsize(): Promise<number> {
    return call(this.actor.qsize.remote());
  }

  /** Whether the queue holds no item: `await q.empty()` */
  async empty(): Promise<boolean> {
    return call(this.actor.empty.remote());
  }

  /** Whether put() would block: `await q.full()` */
  async full(): Promise<boolean> {
    return call(this.actor.full.remote());
  }

  /** Mark one item taken with get() as processed (for join()): `await q.taskDone()` */
  async taskDone(): Promise<void> {
    await call(this.actor.taskDone.remote());
  }

  /** Wait until every item put so far was marked with taskDone(): `await q.join()` */
  async join(): Promise<void> {
    await call(this.actor.join.remote());
  }

  /** Destroy the queue's actor; later calls (and blocked ones) fail with ActorDiedError. `await q.shutdown()` */
  async shutdown(): Promise<void> {
    await kill(this.actor);
  }
}

function checkTimeout(timeout: number | undefined): number | null {
  if (timeout === undefined) return null;
  if (typeof timeout !== "number" || !(timeout >= 0)) throw new RangeError(`Queue: timeout must be a non-negative number of ms, got ${timeout}`);
  return timeout;
}

/** Read an actor call's value; the actor's Full/Empty exceptions become this module's classes. */
async function call<V>(ref: ObjectRef<V>): Promise<V> {
  try {
    return await get(ref);
  } catch (e) {
    if (isTaskError(e)) {
      const message = (e.cause as Error).message;
      if (e.originalName === "Full") throw new Full(message, { cause: e });
      if (e.originalName === "Empty") throw new Empty(message, { cause: e });
      if (e.originalName === "ValueError") throw new RangeError(message, { cause: e });
    }
    throw e;
  }
}
