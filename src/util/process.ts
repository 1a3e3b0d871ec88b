// Process: multiprocessing.Process over one Helios task. `start()` submits
// `target(...args)` (the same code rules as Pool: self-contained, exported by a module, or
// a remote function), `join()` waits for it, `terminate()` cancels it. As in Python, join()
// does not throw when the target failed: the error is printed to stderr and kept in `error`,
// and `exitCode` is 1 (0 on success, null while running, -15 once terminated).
import { cancel, get, IllegalStateError, isHeliosError, type ObjectRef, type TaskOptions } from "../index.js";
import { describeFunction, isRemoteFunction, isTaskError, runChunk, type Target } from "./fn.js";

export interface ProcessOptions<A extends unknown[], R> {
  target: Target<A, R>;
  args?: A;
  /** A name for logs; defaults to the target's name. */
  name?: string;
  taskOptions?: TaskOptions;
}

/** A function run once on a worker: `const p = new Process({ target: work, args: [1] }); p.start(); await p.join()` */
export class Process<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  /** null until the target has finished; 0 on success, 1 on error, -15 when terminated. */
  exitCode: number | null = null;
  /** The target's return value, once it finished. */
  result?: Awaited<R>;
  /** The target's error (a TaskError), when it failed. */
  error?: unknown;
  private done?: Promise<void>;
  private ref?: ObjectRef<unknown>;
  private terminated = false;

  constructor(private readonly options: ProcessOptions<A, R>) {
    this.name = options.name ?? ((options.target as Function).name || "Process");
  }

  /** Submit the target: `p.start()` (once per Process). */
  start(): void {
    if (this.done) throw new IllegalStateError(`Process ${this.name} was already started`);
    const { target, args = [] as unknown as A, taskOptions = {} } = this.options;
    const value = isRemoteFunction(target)
      ? Promise.resolve(this.submit(target.options({ name: this.name, ...taskOptions }).remote(...(args as any))))
      : describeFunction(target as Function, "Process").then((spec) => this.submit(runChunk.options({ name: this.name, ...taskOptions }).remote(spec, true, true, args)));
    this.done = value.then(async (ref) => {
      const v = await get(ref);
      this.result = v as Awaited<R>;
      this.exitCode = 0;
    }).catch((e) => {
      this.error = e;
      this.exitCode = this.terminated || (isHeliosError(e) && e.name === "TaskCancelledError") ? -15 : 1;
      if (this.exitCode === 1) console.error(`Process ${this.name} failed: ${isTaskError(e) ? `${e.originalName}: ${(e.cause as Error).message}` : String(e)}`);
    });
  }

  private submit(ref: ObjectRef<unknown>): ObjectRef<unknown> {
    this.ref = ref;
    if (this.terminated) void cancel(ref).catch(() => {});
    return ref;
  }

  /** Wait for the target to finish, or at most `timeout` ms; never throws for the target's error. `await p.join()` */
  async join(options: { timeout?: number } = {}): Promise<void> {
    if (!this.done) throw new IllegalStateError(`Process ${this.name}: join() before start()`);
    if (options.timeout === undefined) return this.done;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise<void>((r) => { timer = setTimeout(r, options.timeout); })]);
    clearTimeout(timer);
  }

  /** Whether the target was started and has not finished: `p.isAlive()` */
  isAlive(): boolean {
    return this.done !== undefined && this.exitCode === null;
  }

  /** Cancel the target (its worker is stopped if it is running): `await p.terminate()` */
  async terminate(): Promise<void> {
    this.terminated = true;
    if (this.ref && this.exitCode === null) await cancel(this.ref).catch(() => {});
  }
}
