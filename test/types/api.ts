// Type test for the public API: compiled with `tsc -p test/types/tsconfig.json` (noEmit),
// never run. Valid uses must compile; each `// @ts-expect-error` line must be an error
// (tsc reports an unused directive if the line compiles, so typing holes fail the build).
import { remote, get, put, wait, getActor, ObjectRef } from "helios";
import type { ActorHandle, RemoteFunction, MultiReturnFunction, ActorClass, TaskOptions } from "helios";

const square = remote((x: number) => x * x);
const greet = remote(async (name: string, times?: number) => `hi ${name}`.repeat(times ?? 1));
const pair = remote((x: number): [number, string] => [x, String(x)]);

class Counter {
  private n = 0;
  constructor(readonly start: number, readonly label: string) { this.n = start; }
  incr(by: number): number { this.n += by; return this.n; }
  async describe(): Promise<{ label: string; n: number }> { return { label: this.label, n: this.n }; }
}
const CounterActor = remote(Counter);

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;
function assertType<T extends true>(): T | void {}

export async function typeChecks(): Promise<void> {
  // ---- valid uses ----
  const sq: RemoteFunction<(x: number) => number> = square;
  const r1: ObjectRef<number> = square.remote(3);
  const n1: number = await get(r1);
  assertType<Equal<typeof r1, ObjectRef<number>>>();

  // An ObjectRef<number> is accepted where a number is expected (MaybeRefs).
  const three = put(3);
  assertType<Equal<typeof three, ObjectRef<number>>>();
  const r2 = square.remote(three);
  const r3 = square.remote(square.remote(2));
  const n2: number = await get(r2);

  // Async functions: the ref holds the awaited value; optional parameters stay optional.
  const g1 = greet.remote("ann");
  const g2 = greet.remote(put("bob"), 2);
  assertType<Equal<typeof g1, ObjectRef<string>>>();
  const s1: string = await get(g2);

  // get of a tuple of refs keeps each element's type; of an array, the element type.
  const [x, y] = await get([r1, g1]);
  assertType<Equal<typeof x, number>>();
  assertType<Equal<typeof y, string>>();
  const tup: [number, string] = await get([r1, g1]);
  const arr: number[] = await get([r1, r2, r3]);
  const refs: ObjectRef<number>[] = [r1, r2, r3];
  const all: number[] = await get(refs, { timeout: 1000 });

  // numReturns: 2 gives an array of refs, one per element of the returned array.
  const multi: MultiReturnFunction<(x: number) => [number, string]> = pair.options({ numReturns: 2 });
  const parts = pair.options({ numReturns: 2 }).remote(1);
  assertType<Equal<typeof parts, ObjectRef<number | string>[]>>();
  const [p0, p1] = parts;
  const v0: number | string = await get(p0!);
  // numReturns: 1 (or no numReturns) keeps a single ref.
  const single = pair.options({ numReturns: 1, numCpus: 2 }).remote(1);
  assertType<Equal<typeof single, ObjectRef<[number, string]>>>();
  const opts = square.options({ numCpus: 0.5, maxRetries: 3, name: "sq", schedulingStrategy: "SPREAD" }).remote(4);
  assertType<Equal<typeof opts, ObjectRef<number>>>();
  const taskOpts: TaskOptions = { numCpus: 1, numReturns: 1 };
  const fromVar = square.options(taskOpts).remote(5);
  assertType<Equal<typeof fromVar, ObjectRef<number>>>();

  // Actors: ActorClass.options(...).remote() returns a typed handle.
  const cls: ActorClass<typeof Counter> = CounterActor;
  const c = CounterActor.remote(0, "main");
  const c2 = CounterActor.options({ name: "tally", maxConcurrency: 4, lifetime: "detached" }).remote(put(10), "t");
  assertType<Equal<typeof c, ActorHandle<Counter>>>();
  const i1 = c.incr.remote(1);
  const i2 = c2.incr.remote(square.remote(2));
  assertType<Equal<typeof i1, ObjectRef<number>>>();
  const d = c.describe.remote();
  const desc: { label: string; n: number } = await get(d); // async method: awaited value
  assertType<Equal<typeof d, ObjectRef<{ label: string; n: number }>>>();
  const i3 = c.incr.options({ name: "incr-1" }).remote(5);
  const actorId: string = c.actorId;

  // wait returns the ready and pending refs, with their value type.
  const { ready, pending } = await wait([r1, r2, r3], { numReturns: 2, timeout: 500 });
  assertType<Equal<typeof ready, ObjectRef<number>[]>>();
  assertType<Equal<typeof pending, ObjectRef<number>[]>>();

  // getActor<T> returns the handle type asked for.
  const named = await getActor<ActorHandle<Counter>>("tally", { namespace: "app" });
  const i4: ObjectRef<number> = named.incr.remote(1);

  // ---- must fail ----
  // @ts-expect-error wrong argument type to a RemoteFunction
  square.remote("3");
  // @ts-expect-error too many arguments
  square.remote(1, 2);
  // @ts-expect-error too few arguments
  square.remote();
  // @ts-expect-error wrong get result type
  const bad1: string = await get(square.remote(3));
  // @ts-expect-error unknown actor method
  c.decr.remote();
  // @ts-expect-error wrong argument type to an actor method
  c.incr.remote("1");
  // @ts-expect-error wrong actor method result type
  const bad2: string = await get(c.incr.remote(1));
  // @ts-expect-error wrong constructor argument type
  CounterActor.remote("0", "main");
  // @ts-expect-error a RemoteFunction has no call signature
  square(3);
  // @ts-expect-error an ActorClass has no construct signature
  new CounterActor(0, "main");
  // @ts-expect-error wrong option type
  square.options({ numCpus: "2" });
  // @ts-expect-error unknown option key
  square.options({ numCPUs: 2 });
  // @ts-expect-error unknown option key beside a known one
  square.options({ numCpus: 2, gpus: 1 });
  // @ts-expect-error actor option on a task
  square.options({ maxConcurrency: 2 });
  // @ts-expect-error unknown actor option key
  CounterActor.options({ name: "x", numReturns: 2 });
  // @ts-expect-error wrong actor option type
  CounterActor.options({ lifetime: "forever" });
  // @ts-expect-error unknown call option
  c.incr.options({ numCpus: 1 });
  // @ts-expect-error ObjectRef<string> where a number is expected
  square.remote(put("3"));
  // @ts-expect-error ObjectRef<string> where a number is expected, via another task
  square.remote(greet.remote("x"));
  // @ts-expect-error get of mixed refs typed as the wrong tuple
  const bad3: [string, number] = await get([r1, g1]);
  // @ts-expect-error get of mixed refs typed as an array of one element type
  const bad4: number[] = await get([r1, g1]);
  const [mx, my] = await get([r1, g1]);
  // @ts-expect-error the second element of a mixed get is a string
  const bad5: number = my;
  // @ts-expect-error numReturns: 2 returns an array of refs, not a ref
  const bad6: ObjectRef<[number, string]> = pair.options({ numReturns: 2 }).remote(1);
  // @ts-expect-error wait takes an array of refs
  await wait(r1);
  // @ts-expect-error get takes refs, not values
  await get(3);
  // @ts-expect-error a ref is not a promise of its value
  const bad7: number = await square.remote(3);
  // @ts-expect-error getActor's handle has only the class's methods
  named.decr.remote();

  void [sq, n1, n2, s1, tup, arr, all, multi, p1, v0, cls, i2, desc, i3, actorId, i4, mx,
    bad1, bad2, bad3, bad4, bad5, bad6, bad7];
}
