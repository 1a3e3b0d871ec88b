// The workloads of Ray's microbenchmark (python/ray/_private/ray_perf.py in ray-project/ray,
// `ray microbenchmark`) under the same names, with the same shapes: batch sizes, numbers of
// actors and clients, what is called, and the same timeit multipliers (so a row counts what
// Ray's row counts: "tasks and get batch" is batches/s, "put gigabytes" counts 0.8 GB per put
// of a 100 Mi-element int64 array, as ray_perf.py does).
//
// Each row's setup() runs once, after the cluster is up; it returns the function timeit()
// calls, the multiplier, the unit, and a cleanup (actors are killed after their row, as
// Ray's are when their handles go out of scope).
import * as os from "node:os";
import { get, put, wait, kill } from "helios";
import { small_value, Actor, AsyncActor, Client, create_object_containing_ref, work } from "./workloads.mjs";

export const FULL_SIZES = {
  batch: 1000,             // tasks/calls per batch in the *_async rows
  multiN: 10000, multiM: 4, // multi client tasks async: 4 actors × 10,000 tasks each
  oneN: 5000,              // 1:n actor calls: the client calls each server 5,000 times
  nnN: 5000, nnM: 4,       // n:n actor calls: 4 tasks × 5,000 calls spread over n_cpu actors
  refs: 10000,             // get object containing 10k refs
  waitRefs: 1000,          // wait 1k refs
  bigLength: 100 * 1024 * 1024,  // put gigabytes: np.zeros(100 * 1024 * 1024, dtype=np.int64)
};

export const QUICK_SIZES = {
  batch: 10, multiN: 20, multiM: 4, oneN: 20, nnN: 20, nnM: 4, refs: 100, waitRefs: 10, bigLength: 128 * 1024,
};

/** Ray: multiprocessing.cpu_count() // 2 (at least 1 here, so a 1-core machine still runs the rows). */
export const nCpu = () => Math.max(1, Math.floor(os.availableParallelism() / 2));

const batchOf = (n, submit) => {
  const refs = new Array(n);
  for (let i = 0; i < n; i++) refs[i] = submit(i);
  return refs;
};
const killAll = async (actors) => { for (const a of actors) await kill(a).catch(() => undefined); };
const actor = (opts = {}) => Actor.options({ numCpus: 0, ...opts }).remote();
const asyncActor = () => AsyncActor.options({ maxConcurrency: 1000 }).remote();

/** name → (sizes) => setup; in the order of the comparison table. */
export const RAY_ROWS = {
  single_client_tasks_sync: async () => ({
    unit: "tasks/s",
    fn: () => get(small_value.remote()),
  }),

  single_client_tasks_async: async (s) => ({
    unit: "tasks/s", multiplier: s.batch,
    fn: () => get(batchOf(s.batch, () => small_value.remote())),
  }),

  multi_client_tasks_async: async (s) => {
    const actors = batchOf(s.multiM, () => actor());
    return {
      unit: "tasks/s", multiplier: s.multiN * s.multiM,
      fn: () => get(actors.map((a) => a.small_value_batch.remote(s.multiN))),
      cleanup: () => killAll(actors),
    };
  },

  "1_1_actor_calls_sync": async () => {
    const a = actor();
    return { unit: "calls/s", fn: () => get(a.small_value.remote()), cleanup: () => killAll([a]) };
  },

  "1_1_actor_calls_async": async (s) => {
    const a = actor();
    return { unit: "calls/s", multiplier: s.batch, fn: () => get(batchOf(s.batch, () => a.small_value.remote())), cleanup: () => killAll([a]) };
  },

  "1_1_actor_calls_concurrent": async (s) => {
    const a = actor({ maxConcurrency: 16 });
    return { unit: "calls/s", multiplier: s.batch, fn: () => get(batchOf(s.batch, () => a.small_value.remote())), cleanup: () => killAll([a]) };
  },

  "1_n_actor_calls_async": async (s) => {
    const actors = batchOf(nCpu(), () => actor());
    const client = Client.options({ numCpus: 0 }).remote(actors);
    return {
      unit: "calls/s", multiplier: s.oneN * actors.length,
      fn: () => get(client.small_value_batch.remote(s.oneN)),
      cleanup: () => killAll([client, ...actors]),
    };
  },

  "n_n_actor_calls_async": async (s) => {
    const actors = batchOf(nCpu(), () => actor());
    return {
      unit: "calls/s", multiplier: s.nnM * s.nnN,
      fn: () => get(batchOf(s.nnM, () => work.remote(actors, s.nnN))),
      cleanup: () => killAll(actors),
    };
  },

  "1_1_async_actor_calls_sync": async () => {
    const a = asyncActor();
    return { unit: "calls/s", fn: () => get(a.small_value.remote()), cleanup: () => killAll([a]) };
  },

  "1_1_async_actor_calls_async": async (s) => {
    const a = asyncActor();
    return { unit: "calls/s", multiplier: s.batch, fn: () => get(batchOf(s.batch, () => a.small_value.remote())), cleanup: () => killAll([a]) };
  },

  single_client_put_calls: async () => ({
    unit: "puts/s",
    fn: () => { put(0); },
  }),

  single_client_get_calls: async () => {
    const value = put(0);
    return { unit: "gets/s", fn: () => get(value) };
  },

  single_client_put_gigabytes: async (s) => {
    // np.zeros: zero pages, mapped lazily (so is a fresh Float64Array); Ray counts 0.8 GB per put.
    const arr = new Float64Array(s.bigLength);
    return { unit: "GB/s", multiplier: (0.8 * s.bigLength) / FULL_SIZES.bigLength, fn: () => { put(arr); } };
  },

  single_client_tasks_and_get_batch: async (s) => ({
    unit: "batches/s",
    fn: () => get(batchOf(s.batch, () => small_value.remote())),
  }),

  single_client_get_object_containing_10k_refs: async (s) => {
    const obj = create_object_containing_ref.remote(s.refs);
    await get(obj);
    return { unit: "gets/s", fn: () => get(obj) };
  },

  single_client_wait_1k_refs: async (s) => ({
    unit: "batches/s",
    fn: async () => {
      let notReady = batchOf(s.waitRefs, () => small_value.remote());
      for (let i = 0; i < s.waitRefs; i++) notReady = (await wait(notReady, { numReturns: 1 })).pending;
    },
  }),
};
