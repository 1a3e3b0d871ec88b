// Pool: multiprocessing.Pool over Helios tasks.
//
// Design: a Pool is *not* a set of actors. Each chunk of items is one task (the `runChunk`
// remote function applies the user's function to the chunk), all submitted at once; the
// task submitter leases at most `processes` workers for them, so at most that many run at
// once while the rest wait pipelined to those workers, in order. Why tasks: they need no start-up,
// the cluster schedules and spreads them (and spills them to other nodes) like any task, a
// crash costs one chunk rather than a pool member, and `terminate()` is just cancel().
// `processes` defaults to the cluster's CPU count, asked of the head on first use.
// Functions follow remote()'s code rules (see fn.ts): self-contained, or exported by a module.
import * as os from "node:os";
import { cancel, get, IllegalStateError, TaskCancelledError, type ObjectRef, type RemoteFunction, type TaskOptions } from "../index.js";
import { runtime, bindRemote, MAX_LEASES, FailedRef } from "../internal.js";
import { AsyncResult } from "./async-result.js";
import { describeFunction, isRemoteFunction, failedItem, isTaskError, runChunk, type Target } from "./fn.js";

export type { Target } from "./fn.js";

export interface PoolOptions {
  /** How many of the pool's tasks may run at once; default: the cluster's CPUs. */
  processes?: number;
  /** Options for every task the pool submits (numCpus, resources, maxRetries, …). */
  taskOptions?: TaskOptions;
}

export interface MapOptions {
  /** Items per task. map/starmap default to ceil(n / (4 × processes)), imap/imapUnordered to 1; always 1 for a remote function. */
  chunksize?: number;
}

export interface ApplyOptions<R> {
  callback?: (value: R) => void;
  errorCallback?: (error: unknown) => void;
}

/** One item of a map failed: `index` names it, `cause` is the TaskError (or cancellation) behind it. */
export class PoolItemError extends Error {
  constructor(readonly index: number, readonly functionName: string, cause: unknown, readonly chunk?: [number, number]) {
    const c = cause as Error | undefined;
    const why = isTaskError(c) ? `${c.originalName}: ${(c.cause as Error).message}` : `${c?.name ?? "Error"}: ${c?.message ?? String(cause)}`;
    const where = chunk ? `an item of items ${chunk[0]}–${chunk[1]}` : `item ${index}`;
    super(`${functionName}() failed on ${where}: ${why}`, { cause });
    this.name = "PoolItemError";
  }
}

/** A function the pool runs: how to submit one chunk of items as a task. */
interface Job {
  name: string;
  submit(items: unknown[], star: boolean, start: number): ObjectRef<unknown>;
  /** submit() of a chunk of one item, without making the chunk. */
  submitOne(item: unknown, star: boolean, index: number): ObjectRef<unknown>;
}

/** One submitted chunk: items start … start + n − 1. */
interface Chunk { start: number; n: number }

/** The refs of the chunks, in order: chunk i holds items i × size … (i + 1) × size − 1 of `total`. */
interface Launched { job: Job; refs: ObjectRef<unknown>[]; size: number; total: number }

const chunkAt = (l: Launched, i: number): Chunk => ({ start: i * l.size, n: Math.min(l.size, l.total - i * l.size) });

/**
 * A pool of workers that maps a function over items: `const pool = new Pool({ processes: 4 }); await pool.map(square, [1, 2, 3])`.
 */
export class Pool {
  private state: "RUN" | "CLOSE" | "TERMINATE" = "RUN";
  private size?: Promise<number>;
  /** The refs of each launch still being gathered, so that terminate() can cancel them. */
  private readonly inflight = new Set<ObjectRef<unknown>[]>();
  private readonly outstanding = new Set<Promise<unknown>>();
  private readonly jobs = new WeakMap<object, Promise<Job>>();

  constructor(private readonly options: PoolOptions = {}) {
    const p = options.processes;
    if (p !== undefined && (!Number.isInteger(p) || p < 1)) throw new RangeError(`Pool: processes must be a positive integer, got ${p}`);
  }

  /** How many tasks may run at once (the cluster's CPUs unless given). `await pool.processes()` */
  processes(): Promise<number> {
    return (this.size ??= this.options.processes !== undefined ? Promise.resolve(this.options.processes) : clusterCpus());
  }

  /** Apply `fn` to every item; the results in input order. `await pool.map(square, [1, 2, 3]) // [1, 4, 9]` */
  map<T, R>(fn: Target<[T], R>, items: Iterable<T>, options: MapOptions = {}): Promise<Awaited<R>[]> {
    return this.mapAsync(fn, items, options).get();
  }

  /** map() without waiting: an AsyncResult of the list. `const r = pool.mapAsync(square, xs); await r.get()` */
  mapAsync<T, R>(fn: Target<[T], R>, items: Iterable<T>, options: MapOptions = {}): AsyncResult<Awaited<R>[]> {
    const launched = this.launch(fn, items, false, options.chunksize, "Pool.map");
    return new AsyncResult(this.track(launched.then((l) => this.gather(l)) as Promise<Awaited<R>[]>));
  }

  /** map() for functions of several arguments: `await pool.starmap(Math.pow, [[2, 3], [3, 2]]) // [8, 9]` */
  starmap<A extends unknown[], R>(fn: Target<A, R>, items: Iterable<A>, options: MapOptions = {}): Promise<Awaited<R>[]> {
    return this.starmapAsync(fn, items, options).get();
  }

  /** starmap() without waiting: `const r = pool.starmapAsync(add, [[1, 2]]); await r.get() // [3]` */
  starmapAsync<A extends unknown[], R>(fn: Target<A, R>, items: Iterable<A>, options: MapOptions = {}): AsyncResult<Awaited<R>[]> {
    const launched = this.launch(fn, items, true, options.chunksize, "Pool.starmap");
    return new AsyncResult(this.track(launched.then((l) => this.gather(l)) as Promise<Awaited<R>[]>));
  }

  /** Results in input order, each as soon as it and those before it are done: `for await (const y of pool.imap(square, xs)) …` */
  imap<T, R>(fn: Target<[T], R>, items: Iterable<T>, options: MapOptions = {}): AsyncIterableIterator<Awaited<R>> {
    return inOrder(this.each(this.launch(fn, items, false, options.chunksize ?? 1, "Pool.imap"))) as AsyncIterableIterator<Awaited<R>>;
  }

  /** Results in completion order: `for await (const y of pool.imapUnordered(square, xs)) …` */
  imapUnordered<T, R>(fn: Target<[T], R>, items: Iterable<T>, options: MapOptions = {}): AsyncIterableIterator<Awaited<R>> {
    return byCompletion(this.each(this.launch(fn, items, false, options.chunksize ?? 1, "Pool.imapUnordered"))) as AsyncIterableIterator<Awaited<R>>;
  }

  /** Call `fn(...args)` on a worker and wait: `await pool.apply(add, [1, 2]) // 3` */
  apply<A extends unknown[], R>(fn: Target<A, R>, args: A): Promise<Awaited<R>> {
    return this.applyAsync(fn, args).get();
  }

  /** Call `fn(...args)` on a worker without waiting: `const r = pool.applyAsync(square, [3]); await r.get() // 9` */
  applyAsync<A extends unknown[], R>(fn: Target<A, R>, args: A, options: ApplyOptions<Awaited<R>> = {}): AsyncResult<Awaited<R>> {
    const chunks = this.each(this.launch(fn, [args], true, 1, "Pool.applyAsync"));
    const value = (async (): Promise<Awaited<R>> => {
      try { return (await (await chunks)[0])[0] as Awaited<R>; } catch (e) {
        throw e instanceof PoolItemError ? e.cause : e;     // one call: its own error, as multiprocessing raises it
      }
    })();
    value.then((v) => options.callback?.(v), (e) => options.errorCallback?.(e));
    return new AsyncResult(this.track(value));
  }

  /** Accept no more work; what was submitted still runs. `pool.close(); await pool.join()` */
  close(): void {
    if (this.state === "RUN") this.state = "CLOSE";
  }

  /** Stop now: queued items fail with TaskCancelledError, running tasks are cancelled. `await pool.terminate()` */
  async terminate(): Promise<void> {
    if (this.state === "TERMINATE") return;
    this.state = "TERMINATE";
    await Promise.all([...this.inflight].flat().map((r) => cancel(r).catch(() => {})));
  }

  /** Wait for all submitted work to settle; call close() or terminate() first. `pool.close(); await pool.join()` */
  async join(): Promise<void> {
    if (this.state === "RUN") throw new IllegalStateError("Pool.join(): the pool is still running; call close() or terminate() first");
    while (this.outstanding.size) await Promise.allSettled([...this.outstanding]);
  }

  /** Split items into chunks and submit every chunk as a task. */
  private launch(fn: Target<any[], unknown>, items: Iterable<unknown>, star: boolean, chunksize: number | undefined, api: string): Promise<Launched> {
    if (this.state !== "RUN") throw new IllegalStateError(`${api}(): the pool is ${this.state === "CLOSE" ? "closed" : "terminated"}; create a new Pool`);
    if (chunksize !== undefined && (!Number.isInteger(chunksize) || chunksize < 1)) throw new RangeError(`${api}(): chunksize must be a positive integer, got ${chunksize}`);
    const list = Array.from(items);
    if (isRemoteFunction(fn)) chunksize = 1;   // one task per item anyway: one slot per task
    const job = this.job(fn, api);   // synchronously: it reads the caller's module from the stack
    return this.track((async () => {
      const [j, processes] = await Promise.all([job, chunksize === undefined ? this.processes() : 0]);
      if (this.state === "TERMINATE") {
        throw new PoolItemError(0, j.name, new TaskCancelledError("the pool was terminated before these items started"), list.length > 1 ? [0, list.length - 1] : undefined);
      }
      const size = chunksize ?? defaultChunksize(list.length, processes);
      const refs: ObjectRef<unknown>[] = [];
      if (size === 1) for (let s = 0; s < list.length; s++) refs.push(j.submitOne(list[s], star, s));
      else for (let s = 0; s < list.length; s += size) refs.push(j.submit(list.slice(s, s + size), star, s));
      return { job: j, refs, size, total: list.length };
    })());
  }

  /**
   * Every item's result in input order. One get() for the whole list (a get per item costs
   * promises that make Pool.map of trivial items a third slower), which fails as soon as a
   * chunk fails: the pool rejects at once, naming the item.
   */
  private gather(l: Launched): Promise<unknown[]> {
    this.inflight.add(l.refs);
    return this.collect(l, true).finally(() => { this.inflight.delete(l.refs); });
  }

  private async collect(l: Launched, failFast: boolean): Promise<unknown[]> {
    const { job, refs } = l;
    try {
      const values = await runtime().core.get(refs, undefined, failFast);
      return l.size === 1 ? values : values.flat();   // a chunk of one item holds its value, others a list
    } catch (e) {
      if (e instanceof FailedRef) {
        try { await get(refs[e.index]); } catch (err) { throw this.itemError(job, chunkAt(l, e.index), err); }
        return this.collect(l, false);   // made again since (lineage): not failed after all
      }
      // Not a task's error (a value that could not be read, say): the first item that cannot be read.
      for (let i = 0; i < refs.length; i++) {
        try { await get(refs[i]); } catch (err) { throw this.itemError(job, chunkAt(l, i), err); }
      }
      throw e;
    }
  }

  /** Each chunk's results on its own (imap, applyAsync): a promise per chunk, rejecting with a PoolItemError. */
  private each(launched: Promise<Launched>): Promise<Promise<unknown[]>[]> {
    return launched.then((l) => {
      const { job, refs } = l;
      this.inflight.add(refs);
      const list = refs.map((ref, i) => get(ref).then((v) => (l.size === 1 ? [v] : v as unknown[]), (e) => { throw this.itemError(job, chunkAt(l, i), e); }));
      this.track(Promise.allSettled(list).then(() => { this.inflight.delete(refs); }));
      return list;
    });
  }

  private itemError(job: Job, c: Chunk, e: unknown): PoolItemError {
    const index = c.n === 1 ? c.start : failedItem(e);
    return new PoolItemError(index ?? c.start, job.name, e, index === undefined ? [c.start, c.start + c.n - 1] : undefined);
  }

  private job(fn: Target<any[], unknown>, api: string): Promise<Job> {
    let job = this.jobs.get(fn);
    if (job) return job;
    const limited = async () => ({ ...this.options.taskOptions, [MAX_LEASES]: await this.processes() }) as TaskOptions;
    if (isRemoteFunction(fn)) {
      job = limited().then((options): Job => {
        const f = fn.options(options);
        const submitOne = (item: unknown, star: boolean) => (star ? f.remote(...(item as unknown[])) : f.remote(item));
        return { name: (fn as unknown as Function).name, submitOne, submit: (items, star) => submitOne(items[0], star) };
      });
    } else {
      job = Promise.all([describeFunction(fn as Function, api), limited()]).then(([spec, options]): Job => {
        // The runner with the function's spec bound: the spec goes to each worker once, with the
        // code, not with every chunk; a chunk of one item is the item alone, its result the value.
        const runners = new Map<string, RemoteFunction<(...a: unknown[]) => unknown>>();
        const runner = (star: boolean, single: boolean) => {
          const key = `${star}/${single}`;
          let f = runners.get(key);
          if (!f) runners.set(key, f = bindRemote(runChunk, [spec, star, single], spec.name).options({ ...options, name: spec.name }));
          return f;
        };
        return { name: spec.name, submit: (items, star, start) => runner(star, false).remote(items, start),
          submitOne: (item, star) => runner(star, true).remote(item) };
      });
    }
    job.catch(() => {});
    this.jobs.set(fn, job);
    return job;
  }

  private track<P extends Promise<unknown>>(p: P): P {
    this.outstanding.add(p);
    const done = () => { this.outstanding.delete(p); };
    p.then(done, done);
    return p;
  }
}

/** multiprocessing's default: about four chunks per process. */
function defaultChunksize(n: number, processes: number): number {
  return Math.max(1, Math.ceil(n / (processes * 4)));
}

/** The CPUs of the live nodes of the cluster (this machine's, if the head cannot say). */
async function clusterCpus(): Promise<number> {
  const rt = runtime();
  try {
    const nodes = await rt.core.hold(rt.core.head.call("listNodes", {}, 10_000));
    const cpus = nodes.filter((n) => n.state === "ALIVE").reduce((s, n) => s + (n.resources.CPU ?? 0), 0);
    if (cpus >= 1) return Math.floor(cpus);
  } catch { /* fall back below */ }
  return os.availableParallelism();
}

async function* inOrder(chunks: Promise<Promise<unknown[]>[]>): AsyncGenerator<unknown> {
  for (const c of await chunks) yield* await c;
}

async function* byCompletion(chunks: Promise<Promise<unknown[]>[]>): AsyncGenerator<unknown> {
  const list = await chunks;
  const done: Array<{ ok: boolean; v: any }> = [];
  let wake: (() => void) | undefined;
  const settle = (d: { ok: boolean; v: any }) => { done.push(d); wake?.(); };
  for (const c of list) c.then((v) => settle({ ok: true, v }), (v) => settle({ ok: false, v }));
  for (let n = 0; n < list.length; n++) {
    while (!done.length) await new Promise<void>((r) => { wake = r; });
    const d = done.shift()!;
    if (!d.ok) throw d.v;
    yield* d.v as unknown[];
  }
}
