"""Python's multiprocessing.Pool(2) as a baseline for Helios's Pool rows (standard library only).

    mp_pool_map_100k_per_s     pool.map(f, range(100000), chunksize=1): items/s
    mp_apply_async_sync_per_s  pool.apply_async(f, (1,)).get(), one at a time: calls/s

f is trivial (returns its argument). Timed with bench_common.timeit (Ray's timer).

    python bench/ray/mp_bench.py [--rows a,b] [--rounds N] [--settle S] [--quick] [--json PATH]
"""

import multiprocessing
import sys

from bench_common import parse_args, pick_rows, progress, report, timeit


def trivial(x):
    return x


def main():
    args = parse_args("multiprocessing.Pool(2) baselines")
    n = 1000 if args.quick else 100_000
    rows = ["mp_pool_map_100k_per_s", "mp_apply_async_sync_per_s"]
    names = pick_rows(rows, args.rows)
    progress(f"mp bench: multiprocessing.Pool(2), start method {multiprocessing.get_start_method()}, "
             f"python {sys.version.split()[0]}, timing {args.timing}{' (quick)' if args.quick else ''}")
    results = {}
    with multiprocessing.Pool(2) as pool:
        pool.map(trivial, range(100), chunksize=1)  # the workers are up
        items = range(n)

        def pool_map():
            out = pool.map(trivial, items, chunksize=1)
            assert len(out) == n

        def apply_sync():
            pool.apply_async(trivial, (1,)).get()

        fns = {
            "mp_pool_map_100k_per_s": (pool_map, n, "items/s"),
            "mp_apply_async_sync_per_s": (apply_sync, 1, "calls/s"),
        }
        for name in names:
            progress(f"  {name} ...")
            fn, multiplier, unit = fns[name]
            results[name] = {"unit": unit, **timeit(fn, args.timing, multiplier)}
    report("multiprocessing", args, results, processes=2, items=n,
           startMethod=multiprocessing.get_start_method())


if __name__ == "__main__":
    main()
