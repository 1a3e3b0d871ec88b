// The remote functions and actor classes of Ray's microbenchmark
// (python/ray/_private/ray_perf.py), one for one. Workers import this module by path, so
// its definitions may use each other (a Client calls small_value on its servers; an Actor
// submits small_value tasks). Ray's values are b"ok"; here they are the string "ok".
import { remote, get, put } from "helios";

/** @ray.remote def small_value(): return b"ok" */
export const small_value = remote(function small_value() { return "ok"; });

/** @ray.remote(num_cpus=0) class Actor — create with Actor.options({ numCpus: 0 }), as Ray does. */
export const Actor = remote(class Actor {
  small_value() { return "ok"; }
  small_value_arg(x) { return "ok"; }
  async small_value_batch(n) {
    const refs = new Array(n);
    for (let i = 0; i < n; i++) refs[i] = small_value.remote();
    await get(refs);
  }
});

/**
 * @ray.remote class AsyncActor — every method async. Ray runs an async actor's calls
 * concurrently, up to 1000 at once by default: create with { maxConcurrency: 1000 }.
 */
export const AsyncActor = remote(class AsyncActor {
  async small_value() { return "ok"; }
  async small_value_with_arg(x) { return "ok"; }
});

/** @ray.remote(num_cpus=0) class Client — calls its servers from its own process. */
export const Client = remote(class Client {
  constructor(servers) {
    this.servers = Array.isArray(servers) ? servers : [servers];
  }
  async small_value_batch(n) {
    const results = [];
    for (const s of this.servers) for (let i = 0; i < n; i++) results.push(s.small_value.remote());
    await get(results);
  }
  async small_value_batch_arg(n) {
    const x = put(0);
    const results = [];
    for (const s of this.servers) for (let i = 0; i < n; i++) results.push(s.small_value_arg.remote(x));
    await get(results);
  }
});

/** @ray.remote def create_object_containing_ref(): a list of 10,000 refs put by the task. */
export const create_object_containing_ref = remote(function create_object_containing_ref(n = 10000) {
  const refs = [];
  for (let i = 0; i < n; i++) refs.push(put(1));
  return refs;
});

/** n:n actor calls: `@ray.remote def work(actors): ray.get([actors[i % n_cpu].small_value.remote() for i in range(n)])` */
export const work = remote(async function work(actors, n) {
  const refs = new Array(n);
  for (let i = 0; i < n; i++) refs[i] = actors[i % actors.length].small_value.remote();
  await get(refs);
});

/** A trivial task for the Helios rows (pool map, memory growth). */
export const trivial = remote(function trivial(x) { return x; });
