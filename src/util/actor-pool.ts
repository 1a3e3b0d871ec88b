// ActorPool: Ray's ray.util.ActorPool. Values go to idle actors (or wait for one); results
// come back in submission order (getNext) or as they finish (getNextUnordered). An actor
// returns to the idle list once its call has finished, and then takes the oldest waiting value.
import { get, wait, GetTimeoutError, IllegalStateError, type ObjectRef } from "../index.js";

/** What an ActorPool submits: call one method of `actor` with `value`, returning its ref. */
export type ActorCall<A, V, R> = (actor: A, value: V) => ObjectRef<R>;

export interface NextOptions {
  /** Milliseconds to wait for a result before GetTimeoutError (the result stays in the pool). */
  timeout?: number;
}

/**
 * Spread work over a fixed set of actors: `const pool = new ActorPool([a, b]); for await (const y of pool.map((a, v) => a.double.remote(v), [1, 2, 3])) …`
 */
export class ActorPool<A extends object, R = any> {
  private idle: A[] = [];
  private readonly futureToActor = new Map<ObjectRef<unknown>, [number, A]>();
  private readonly indexToFuture = new Map<number, ObjectRef<unknown>>();
  private nextTaskIndex = 0;
  private nextReturnIndex = 0;
  private pendingSubmits: Array<[ActorCall<A, any, unknown>, unknown]> = [];
  private lock: Promise<unknown> = Promise.resolve();

  constructor(actors: Iterable<A>) {
    for (const a of actors) this.push(a);
  }

  /** Submit every value and yield the results in order: `for await (const y of pool.map((a, v) => a.f.remote(v), xs)) …` */
  map<V, T>(fn: ActorCall<A, V, T>, values: Iterable<V>): AsyncIterableIterator<T> {
    const started = this.restart(fn, values);
    const self = this;
    return (async function* () {
      await started;
      while (self.hasNext()) yield await self.getNext<T>();
    })();
  }

  /** Like map(), in completion order: `for await (const y of pool.mapUnordered((a, v) => a.f.remote(v), xs)) …` */
  mapUnordered<V, T>(fn: ActorCall<A, V, T>, values: Iterable<V>): AsyncIterableIterator<T> {
    const started = this.restart(fn, values);
    const self = this;
    return (async function* () {
      await started;
      while (self.hasNext()) yield await self.getNextUnordered<T>();
    })();
  }

  /** Drop the results of earlier work (as Ray's map does), then submit every value. */
  private async restart<V>(fn: ActorCall<A, V, unknown>, values: Iterable<V>): Promise<void> {
    while (this.hasNext()) await this.getNextUnordered().catch(() => undefined);
    for (const v of values) this.submit(fn, v);
  }

  /** Run `fn(actor, value)` on an idle actor, or queue it until one is free: `pool.submit((a, v) => a.double.remote(v), 1)` */
  submit<V>(fn: ActorCall<A, V, R>, value: V): void;
  submit<V, T>(fn: ActorCall<A, V, T>, value: V): void;
  submit<V>(fn: ActorCall<A, V, unknown>, value: V): void {
    const actor = this.idle.pop();
    if (!actor) { this.pendingSubmits.push([fn, value]); return; }
    const future = fn(actor, value);
    this.futureToActor.set(future, [this.nextTaskIndex, actor]);
    this.indexToFuture.set(this.nextTaskIndex, future);
    this.nextTaskIndex++;
  }

  /** Whether results are waiting to be taken: `while (pool.hasNext()) await pool.getNext()` */
  hasNext(): boolean {
    return this.futureToActor.size > 0;
  }

  /** The next result in submission order: `await pool.getNext({ timeout: 1000 })` */
  getNext<T = R>(options: NextOptions = {}): Promise<T> {
    return this.exclusive(async () => {
      if (!this.hasNext()) throw new IllegalStateError("ActorPool.getNext(): no more results to get; submit() first");
      if (this.nextReturnIndex >= this.nextTaskIndex) {
        throw new IllegalStateError("ActorPool.getNext() cannot follow getNextUnordered(); use getNextUnordered() until hasNext() is false");
      }
      const index = this.nextReturnIndex;
      const future = this.indexToFuture.get(index)!;
      const { ready } = await wait([future], { numReturns: 1, timeout: options.timeout });
      if (!ready.length) throw new GetTimeoutError(`ActorPool.getNext() timed out after ${options.timeout} ms waiting for result ${index}`);
      this.indexToFuture.delete(index);
      this.nextReturnIndex++;
      return this.take<T>(future);
    });
  }

  /** Any finished result, soonest first: `await pool.getNextUnordered({ timeout: 1000 })` */
  getNextUnordered<T = R>(options: NextOptions = {}): Promise<T> {
    return this.exclusive(async () => {
      if (!this.hasNext()) throw new IllegalStateError("ActorPool.getNextUnordered(): no more results to get; submit() first");
      const { ready } = await wait([...this.futureToActor.keys()], { numReturns: 1, timeout: options.timeout });
      if (!ready.length) throw new GetTimeoutError(`ActorPool.getNextUnordered() timed out after ${options.timeout} ms`);
      const future = ready[0];
      const [index] = this.futureToActor.get(future)!;
      this.indexToFuture.delete(index);
      this.nextReturnIndex = Math.max(this.nextReturnIndex, index + 1);
      return this.take<T>(future);
    });
  }

  /** Whether an actor is idle and no value waits for one: `if (pool.hasFree()) pool.submit(f, v)` */
  hasFree(): boolean {
    return this.idle.length > 0 && this.pendingSubmits.length === 0;
  }

  /** Take an idle actor out of the pool, or undefined: `const a = pool.popIdle()` */
  popIdle(): A | undefined {
    return this.hasFree() ? this.idle.pop() : undefined;
  }

  /** Add an actor (it must not be in the pool already): `pool.push(Worker.remote())` */
  push(actor: A): void {
    const id = actorIdOf(actor);
    const busy = [...this.futureToActor.values()].map(([, a]) => a);
    if ([...this.idle, ...busy].some((a) => actorIdOf(a) === id)) throw new IllegalStateError("ActorPool.push(): the actor already belongs to this pool");
    this.returnActor(actor);
  }

  /** The call finished: free its actor, then read its value (a failed call rejects with its TaskError). */
  private take<T>(future: ObjectRef<unknown>): Promise<T> {
    const [, actor] = this.futureToActor.get(future)!;
    this.futureToActor.delete(future);
    this.returnActor(actor);
    return get(future) as Promise<T>;
  }

  private returnActor(actor: A): void {
    this.idle.push(actor);
    while (this.idle.length && this.pendingSubmits.length) {
      const [fn, value] = this.pendingSubmits.shift()!;
      this.submit(fn, value);
    }
  }

  /** One getNext/getNextUnordered at a time, so concurrent callers never take the same result. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => undefined);
    return run;
  }
}

function actorIdOf(a: object): unknown {
  return (a as { actorId?: unknown }).actorId ?? a;
}
