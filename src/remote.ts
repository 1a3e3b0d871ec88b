// remote(): turn a function into a RemoteFunction, a class into an ActorClass.
import { bindDescriptor, describe, type CodeDescriptor } from "./code/descriptor.js";
import { runtime } from "./api.js";
import type { ActorClass, ActorOptions, RemoteFunction, TaskOptions } from "./types.js";

const TASK_OPTIONS = new Set(["name", "numCpus", "numGpus", "memory", "resources", "numReturns", "maxRetries",
  "retryExceptions", "schedulingStrategy", "runtimeEnv"]);
const ACTOR_OPTIONS = new Set(["name", "namespace", "lifetime", "getIfExists", "maxRestarts", "maxTaskRetries",
  "maxConcurrency", "maxPendingCalls", "numCpus", "numGpus", "memory", "resources", "schedulingStrategy", "runtimeEnv"]);

/**
 * Make a function or class remote.
 * `const square = remote((x: number) => x * x); await get(square.remote(3))`
 */
export function remote<F extends (...args: any[]) => any>(fn: F): RemoteFunction<F>;
export function remote<C extends abstract new (...args: any) => any>(cls: C): ActorClass<C>;
export function remote(target: any): any {
  if (typeof target !== "function") throw new TypeError(`remote() takes a function or a class, got ${typeof target}`);
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(target));
  const desc = describe(target, isClass ? "class" : "function");
  return isClass ? actorClass(desc, methodNames(target), {}) : remoteFunction(desc, {});
}

function remoteFunction(desc: CodeDescriptor, options: TaskOptions): any {
  const f = function () {
    throw new TypeError(`${desc.name} is a remote function: call ${desc.name}.remote(...args) and read the result with get().`);
  };
  f.remote = (...args: unknown[]) => {
    const refs = runtime().submitTask(desc, args, options);
    return (options.numReturns ?? 1) === 1 ? refs[0] : refs;
  };
  f.options = (o: TaskOptions) => remoteFunction(desc, { ...options, ...check(o, TASK_OPTIONS, "task") });
  Object.defineProperty(f, "name", { value: desc.name });
  Object.defineProperty(f, DESCRIPTOR, { value: desc });
  return f;
}

const DESCRIPTOR = Symbol("helios.descriptor");

/**
 * Internal: a remote function that calls `rf` with `args` in front, named `name`. The bound
 * arguments go to each worker once, with the code, not with every task (helios/util's Pool).
 */
export function bindRemote<F extends (...args: any[]) => any>(rf: RemoteFunction<F>, args: unknown[], name: string): RemoteFunction<(...rest: any[]) => ReturnType<F>> {
  const desc = (rf as any)[DESCRIPTOR] as CodeDescriptor | undefined;
  if (!desc) throw new TypeError("bindRemote() takes a remote function");
  return remoteFunction(bindDescriptor(desc, args, name), {});
}

function actorClass(desc: CodeDescriptor, methods: string[], options: ActorOptions): any {
  const c = function () {
    throw new TypeError(`${desc.name} is an actor class: create an actor with ${desc.name}.remote(...args).`);
  };
  c.remote = (...args: unknown[]) => runtime().createActor(desc, methods, args, options);
  c.options = (o: ActorOptions) => actorClass(desc, methods, { ...options, ...check(o, ACTOR_OPTIONS, "actor") });
  Object.defineProperty(c, "name", { value: desc.name });
  return c;
}

function check<T extends object>(o: T, allowed: Set<string>, what: string): T {
  if (typeof o !== "object" || o === null) throw new TypeError(`options() takes an object of ${what} options`);
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) throw new TypeError(`unknown ${what} option '${k}'. Known: ${[...allowed].join(", ")}`);
  }
  const n = (o as any).numReturns;
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new TypeError(`numReturns must be a positive integer, got ${n}`);
  const mr = (o as any).maxRetries;
  if (mr !== undefined && (!Number.isInteger(mr) || mr < -1)) throw new TypeError(`maxRetries must be an integer ≥ -1 (-1: retry forever), got ${mr}`);
  const re = (o as any).retryExceptions;
  if (re !== undefined && typeof re !== "boolean" && !(Array.isArray(re) && re.every((x) => typeof x === "string"))) {
    throw new TypeError("retryExceptions must be true, false, or a list of error names such as ['TimeoutError']");
  }
  const mc = (o as any).maxConcurrency;
  if (mc !== undefined && (!Number.isInteger(mc) || mc < 1)) throw new TypeError(`maxConcurrency must be a positive integer, got ${mc}`);
  return o;
}

function methodNames(cls: Function): string[] {
  const names = new Set<string>();
  for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const n of Object.getOwnPropertyNames(p)) {
      if (n === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(p, n)!;
      if (typeof d.value === "function") names.add(n);
    }
  }
  return [...names];
}
