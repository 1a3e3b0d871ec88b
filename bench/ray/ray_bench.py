"""The workloads of Ray's microbenchmark against Ray, with the row names of bench/run.mjs.

Each row is the code of python/ray/_private/ray_perf.py (`ray microbenchmark`) for the same
name: the same remote functions and actor classes, batch sizes, numbers of actors and
clients, and timeit multipliers. Differences: the timer's fixed numbers are parameters
(bench_common.timeit), counts shrink with --quick, ray.init gets num_cpus = the machine's
cores explicitly, and each row's actors are killed after the row.

    python bench/ray/ray_bench.py [--rows a,b] [--rounds N] [--settle S] [--quick] [--json PATH]

Prints the JSON report to stdout, or writes it to --json PATH. Exits with status 3 and a note
on stderr when `import ray` fails.
"""

import asyncio
import multiprocessing
import os
import sys

from bench_common import parse_args, pick_rows, progress, report, timeit

try:
    import numpy as np
    import ray
except ImportError as e:
    print(f"ray_bench: cannot import ray/numpy with {sys.executable}: {e}. "
          "Install them with: python3 -m venv v && v/bin/pip install ray numpy", file=sys.stderr)
    sys.exit(3)

FULL_SIZES = dict(batch=1000, multiN=10000, multiM=4, oneN=5000, nnN=5000, nnM=4, refs=10000,
                  waitRefs=1000, bigLength=100 * 1024 * 1024)
QUICK_SIZES = dict(batch=10, multiN=20, multiM=4, oneN=20, nnN=20, nnM=4, refs=100, waitRefs=10,
                   bigLength=128 * 1024)


# ---- ray_perf.py's definitions -----------------------------------------------------------

@ray.remote(num_cpus=0)
class Actor:
    def small_value(self):
        return b"ok"

    def small_value_arg(self, x):
        return b"ok"

    def small_value_batch(self, n):
        ray.get([small_value.remote() for _ in range(n)])


@ray.remote
class AsyncActor:
    async def small_value(self):
        return b"ok"

    async def small_value_with_arg(self, x):
        return b"ok"

    async def small_value_batch(self, n):
        await asyncio.wait([small_value.remote() for _ in range(n)])


@ray.remote(num_cpus=0)
class Client:
    def __init__(self, servers):
        if not isinstance(servers, list):
            servers = [servers]
        self.servers = servers

    def small_value_batch(self, n):
        results = []
        for s in self.servers:
            results.extend([s.small_value.remote() for _ in range(n)])
        ray.get(results)

    def small_value_batch_arg(self, n):
        x = ray.put(0)
        results = []
        for s in self.servers:
            results.extend([s.small_value_arg.remote(x) for _ in range(n)])
        ray.get(results)


@ray.remote
def small_value():
    return b"ok"


@ray.remote
def create_object_containing_ref(n=10000):
    obj_refs = []
    for _ in range(n):
        obj_refs.append(ray.put(1))
    return obj_refs


@ray.remote
def work(actors, n):
    # ray_perf.py: ray.get([actors[i % n_cpu].small_value.remote() for i in range(n)])
    n_cpu = len(actors)
    ray.get([actors[i % n_cpu].small_value.remote() for i in range(n)])


def n_cpu():
    # ray_perf.py: multiprocessing.cpu_count() // 2 (at least 1, as in bench/ray-rows.mjs)
    return max(1, multiprocessing.cpu_count() // 2)


# ---- the rows: name -> setup(sizes) -> (fn, multiplier, unit, actors to kill) -------------

def single_client_tasks_sync(s):
    def small_task():
        ray.get(small_value.remote())
    return small_task, 1, "tasks/s", []


def single_client_tasks_async(s):
    def small_task_async():
        ray.get([small_value.remote() for _ in range(s["batch"])])
    return small_task_async, s["batch"], "tasks/s", []


def multi_client_tasks_async(s):
    n, m = s["multiN"], s["multiM"]
    actors = [Actor.remote() for _ in range(m)]

    def multi_task():
        submitted = [a.small_value_batch.remote(n) for a in actors]
        ray.get(submitted)
    return multi_task, n * m, "tasks/s", actors


def actor_calls_sync(s):
    a = Actor.remote()

    def actor_sync():
        ray.get(a.small_value.remote())
    return actor_sync, 1, "calls/s", [a]


def actor_calls_async(s):
    a = Actor.remote()

    def actor_async():
        ray.get([a.small_value.remote() for _ in range(s["batch"])])
    return actor_async, s["batch"], "calls/s", [a]


def actor_calls_concurrent(s):
    a = Actor.options(max_concurrency=16).remote()

    def actor_concurrent():
        ray.get([a.small_value.remote() for _ in range(s["batch"])])
    return actor_concurrent, s["batch"], "calls/s", [a]


def one_n_actor_calls_async(s):
    n = s["oneN"]
    actors = [Actor._remote() for _ in range(n_cpu())]
    client = Client.remote(actors)

    def actor_async_direct():
        ray.get(client.small_value_batch.remote(n))
    return actor_async_direct, n * len(actors), "calls/s", [client] + actors


def n_n_actor_calls_async(s):
    n, m = s["nnN"], s["nnM"]
    a = [Actor.remote() for _ in range(n_cpu())]

    def actor_multi2():
        ray.get([work.remote(a, n) for _ in range(m)])
    return actor_multi2, m * n, "calls/s", a


def async_actor_calls_sync(s):
    a = AsyncActor.remote()

    def actor_sync():
        ray.get(a.small_value.remote())
    return actor_sync, 1, "calls/s", [a]


def async_actor_calls_async(s):
    a = AsyncActor.remote()

    def async_actor():
        ray.get([a.small_value.remote() for _ in range(s["batch"])])
    return async_actor, s["batch"], "calls/s", [a]


def single_client_put_calls(s):
    def put_small():
        ray.put(0)
    return put_small, 1, "puts/s", []


def single_client_get_calls(s):
    value = ray.put(0)

    def get_small():
        ray.get(value)
    return get_small, 1, "gets/s", []


def single_client_put_gigabytes(s):
    arr = np.zeros(s["bigLength"], dtype=np.int64)

    def put_large():
        ray.put(arr)
    return put_large, 8 * 0.1 * s["bigLength"] / FULL_SIZES["bigLength"], "GB/s", []


def single_client_tasks_and_get_batch(s):
    def small_value_batch():
        submitted = [small_value.remote() for _ in range(s["batch"])]
        ray.get(submitted)
        return 0
    return small_value_batch, 1, "batches/s", []


def single_client_get_object_containing_10k_refs(s):
    obj_containing_ref = create_object_containing_ref.remote(s["refs"])
    ray.get(obj_containing_ref)

    def get_containing_object_ref():
        ray.get(obj_containing_ref)
    return get_containing_object_ref, 1, "gets/s", []


def single_client_wait_1k_refs(s):
    def wait_multiple_refs():
        num_objs = s["waitRefs"]
        not_ready = [small_value.remote() for _ in range(num_objs)]
        fetch_local = True
        for _ in range(num_objs):
            _ready, not_ready = ray.wait(not_ready, fetch_local=fetch_local)
            if fetch_local:
                fetch_local = False
    return wait_multiple_refs, 1, "batches/s", []


ROWS = {
    "single_client_tasks_sync": single_client_tasks_sync,
    "single_client_tasks_async": single_client_tasks_async,
    "multi_client_tasks_async": multi_client_tasks_async,
    "1_1_actor_calls_sync": actor_calls_sync,
    "1_1_actor_calls_async": actor_calls_async,
    "1_1_actor_calls_concurrent": actor_calls_concurrent,
    "1_n_actor_calls_async": one_n_actor_calls_async,
    "n_n_actor_calls_async": n_n_actor_calls_async,
    "1_1_async_actor_calls_sync": async_actor_calls_sync,
    "1_1_async_actor_calls_async": async_actor_calls_async,
    "single_client_put_calls": single_client_put_calls,
    "single_client_get_calls": single_client_get_calls,
    "single_client_put_gigabytes": single_client_put_gigabytes,
    "single_client_tasks_and_get_batch": single_client_tasks_and_get_batch,
    "single_client_get_object_containing_10k_refs": single_client_get_object_containing_10k_refs,
    "single_client_wait_1k_refs": single_client_wait_1k_refs,
}


def main():
    args = parse_args("Ray's microbenchmark workloads, named as in bench/run.mjs")
    names = pick_rows(ROWS, args.rows)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    cores = multiprocessing.cpu_count()
    progress(f"ray bench: ray {ray.__version__}, python {sys.version.split()[0]}, num_cpus {cores}, "
             f"n_cpu {n_cpu()}, timing {args.timing}{' (quick)' if args.quick else ''}")
    ray.init(num_cpus=cores)
    results = {}
    failures = {}
    try:
        for name in names:
            progress(f"  {name} ...")
            try:
                fn, multiplier, unit, actors = ROWS[name](sizes)
                try:
                    r = timeit(fn, args.timing, multiplier)
                finally:
                    for a in actors:
                        ray.kill(a)
                results[name] = {"unit": unit, **r}
            except Exception as e:  # one failed row must not lose the others
                failures[name] = repr(e)
                progress(f"  {name}: FAILED: {e!r}")
    finally:
        ray.shutdown()
    extra = {"ray": ray.__version__, "numCpus": cores, "nCpu": n_cpu(), "sizes": sizes}
    if failures:
        extra["failures"] = failures
    report("ray", args, results, **extra)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
