// AsyncResult: the handle Pool.applyAsync()/mapAsync() return, as in multiprocessing.
import { GetTimeoutError, IllegalStateError } from "../index.js";

/** The eventual result of one pool call: `const r = pool.applyAsync(f, [3]); await r.get({ timeout: 1000 })`. */
export class AsyncResult<T> {
  private settled = false;
  private ok = false;
  private readonly promise: Promise<T>;

  constructor(promise: Promise<T>) {
    this.promise = promise;
    promise.then(() => { this.settled = true; this.ok = true; }, () => { this.settled = true; });
  }

  /** The value, or the call's error; GetTimeoutError after `timeout` ms. `await r.get({ timeout: 5000 })` */
  async get(options: { timeout?: number } = {}): Promise<T> {
    const { timeout } = options;
    if (timeout === undefined || this.settled) return this.promise;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GetTimeoutError(`AsyncResult.get() timed out after ${timeout} ms. Tip: raise the timeout, or check ready() first.`)), timeout);
    });
    try { return await Promise.race([this.promise, expired]); } finally { clearTimeout(timer); }
  }

  /** Resolve once the call has finished (or after `timeout` ms); never rejects. `await r.wait()` */
  async wait(options: { timeout?: number } = {}): Promise<void> {
    const done = this.promise.then(() => undefined, () => undefined);
    if (options.timeout === undefined) return done;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => { timer = setTimeout(r, options.timeout); })]);
    clearTimeout(timer);
  }

  /** Whether the call has finished. `if (r.ready()) …` */
  ready(): boolean { return this.settled; }

  /** Whether the call finished without an error; throws IllegalStateError before it finished. `r.successful()` */
  successful(): boolean {
    if (!this.settled) throw new IllegalStateError("AsyncResult is not ready: await r.wait() before successful()");
    return this.ok;
  }
}
