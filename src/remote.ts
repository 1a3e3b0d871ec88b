// remote(): turn a function into a RemoteFunction, a class into an ActorClass.
import { bindDescriptor, describe, type CodeDescriptor } from "./code/descriptor.js";
import { runtime } from "./api.js";
import { checkActorOptions, checkTaskOptions } from "./options.js";
import type { ActorClass, ActorOptions, RemoteFunction, TaskOptions } from "./types.js";

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
  f.options = (o: TaskOptions) => remoteFunction(desc, checkTaskOptions(o, { ...options, ...o }));
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
  c.options = (o: ActorOptions) => actorClass(desc, methods, checkActorOptions(o, { ...options, ...o }));
  Object.defineProperty(c, "name", { value: desc.name });
  return c;
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
