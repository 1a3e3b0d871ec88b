"""Timing and output shared by ray_bench.py and mp_bench.py (standard library only).

timeit() is ray._private.ray_microbenchmark_helpers.timeit, step for step, with its fixed
numbers made parameters (settle = its warmup_time_sec sleep, 10 s in Ray; 4 rounds of 2 s),
so that --quick and --rounds work and both systems are timed alike; bench/timeit.mjs is the
same timer for Helios.
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone

DEFAULT_TIMING = {"settle": 2.0, "warmup": 1.0, "seconds": 2.0, "rounds": 4}
QUICK_TIMING = {"settle": 0.0, "warmup": 0.0, "seconds": 0.0, "rounds": 1}


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rows", help="comma-separated row names to run (default: all)")
    p.add_argument("--rounds", type=int, help="timed rounds per row (default 4, as Ray)")
    p.add_argument("--seconds", type=float, help="length of a round in seconds (default 2)")
    p.add_argument("--settle", type=float, help="sleep before each row in seconds (default 2; Ray's timer sleeps 10)")
    p.add_argument("--quick", action="store_true", help="tiny counts, one short round")
    p.add_argument("--json", help="write the JSON report here instead of stdout")
    args = p.parse_args()
    base = QUICK_TIMING if args.quick else DEFAULT_TIMING
    args.timing = {
        "settle": base["settle"] if args.settle is None else args.settle,
        "warmup": base["warmup"],
        "seconds": base["seconds"] if args.seconds is None else args.seconds,
        "rounds": base["rounds"] if args.rounds is None else args.rounds,
    }
    return args


def timeit(fn, timing, multiplier=1):
    time.sleep(timing["settle"])
    # warmup
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < timing["warmup"]:
        fn()
        count += 1
    # real run
    step = count // 10 + 1
    rates = []
    for _ in range(timing["rounds"]):
        start = time.perf_counter()
        count = 0
        while True:  # at least one batch, so --quick still measures
            for _ in range(step):
                fn()
            count += step
            if time.perf_counter() - start >= timing["seconds"]:
                break
        end = time.perf_counter()
        rates.append(multiplier * count / (end - start))
    mean = sum(rates) / len(rates)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rates) / len(rates))  # np.std
    return {"mean": mean, "stddev": sd, "rounds": rates}


def pick_rows(all_rows, spec):
    if not spec:
        return list(all_rows)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in all_rows]
    if unknown or not names:
        sys.exit(f"unknown row(s) {', '.join(unknown) or '(none given)'}; known rows: {', '.join(all_rows)}")
    return [n for n in all_rows if n in names]


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def report(system, args, rows, **extra):
    out = {
        "system": system,
        "date": datetime.now(timezone.utc).isoformat(),
        "python": sys.version.split()[0],
        "platform": f"{platform.system().lower()} {platform.machine()}",
        "cores": os.cpu_count(),
        "quick": args.quick,
        "timing": args.timing,
        **extra,
        "rows": rows,
    }
    text = json.dumps(out, indent=2)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            f.write(text + "\n")
        for name, r in rows.items():
            progress(f"{name:46s} {r['mean']:>14,.2f} +- {r['stddev']:,.2f} {r['unit']}")
        progress(f"wrote {args.json}")
    else:
        print(text)
