// Helios microbenchmarks: `npm run bench` (builds first) or `node bench/run.mjs [flags]`.
//
// The rows named like Ray's are the workloads of `ray microbenchmark`
// (python/ray/_private/ray_perf.py), same shapes, same timer (bench/ray-rows.mjs,
// bench/timeit.mjs); bench/ray/ray_bench.py runs them against Ray for `npm run bench:compare`.
// Then rows of Helios's own (bench/helios-rows.mjs) and two physical baselines measured in the
// same run (bench/baselines.mjs):
//   init_to_first_result_ms          a fresh node process: init() to the first get() result (5 runs)
//   idle_worker_rss_mb               VmRSS of each idle worker, after a few tasks (before the warm-up)
//   idle_worker_rss_after_load_mb    VmRSS of the idle worker that ran the 3 s warm-up of sync tasks
//                                    (V8's optimizing compiler has run in it; no target)
//   pool_map_100k_per_s              100k trivial tasks, one item per task, through Pool.map
//   memory_growth_mb_per_100k_tasks  1M tasks in waves of 10k, in a fresh driver and cluster: head +
//                                    agent + driver RSS growth per 100k tasks (opt-in: --long, or
//                                    name it in --rows)
//   raw_socket_pingpong_per_s        framed ping-pong between two node processes over TCP
//   raw_unix_socket_pingpong_per_s   the same over a Unix socket (Helios's transport on one machine)
//   memcpy_gb_per_s                  Buffer.copy of 1 GB of touched memory
//
// Flags: --rows a,b (pick rows)   --rounds N (timed rounds, default 4, as Ray)
//        --seconds S (round length, default 2)   --settle S (sleep before each row, default 2;
//        Ray's timer sleeps 10)   --long (add the memory-growth row)   --num-cpus N
//        --json PATH (default bench/results/latest.json)   --quick (tiny counts, 1 short round)
//        --row-timeout S (a row still running after S seconds fails with the agent's worker
//        list and the run goes on; default 900, quick 60)
//
// Benchmarks are not tests: the figures depend on the machine and its load, and nothing
// here asserts a speed. test/bench.test.mjs only runs `--quick` to check the script works.
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { init, shutdown, get, isInitialized } from "helios";
import { runtime } from "../dist/src/api.js";
import { RAY_ROWS, FULL_SIZES, QUICK_SIZES, nCpu } from "./ray-rows.mjs";
import { initToFirstResult, idleWorkerRss, idleWorkerRssAfterLoad, poolMap, memoryGrowthRow } from "./helios-rows.mjs";
import { pingPong, memcpy } from "./baselines.mjs";
import { timeit, DEFAULT_TIMING, QUICK_TIMING, printResults } from "./timeit.mjs";
import { small_value } from "./workloads.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

// Rows start with the driver's garbage collected (CPython frees on the spot; V8 would carry a
// previous row's 800 MB arrays into the next row's GCs).
v8.setFlagsFromString("--expose-gc");
const collectGarbage = vm.runInNewContext("gc");
const root = path.resolve(here, "..");

const { values: flags } = parseArgs({
  options: {
    rows: { type: "string" },
    rounds: { type: "string" },
    seconds: { type: "string" },
    settle: { type: "string" },
    json: { type: "string" },
    "num-cpus": { type: "string" },
    "row-timeout": { type: "string" },
    long: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  console.log("usage: node bench/run.mjs [--rows a,b] [--rounds N] [--seconds S] [--settle S] [--long] [--num-cpus N] [--row-timeout S] [--json PATH] [--quick]");
  console.log(`rows: ${Object.keys(rowTable()).join(", ")}`);
  process.exit(0);
}

const quick = flags.quick;
const base = quick ? QUICK_TIMING : DEFAULT_TIMING;
const timing = {
  settle: nonNegative("--settle", flags.settle, base.settle),
  warmup: base.warmup,
  seconds: nonNegative("--seconds", flags.seconds, base.seconds),
  rounds: positiveInt("--rounds", flags.rounds, base.rounds),
};
const sizes = quick ? QUICK_SIZES : FULL_SIZES;
const numCpus = positiveInt("--num-cpus", flags["num-cpus"], os.availableParallelism());
const rowTimeout = positiveInt("--row-timeout", flags["row-timeout"], quick ? 60 : 900);
const jsonPath = path.resolve(flags.json ?? path.join(here, "results", "latest.json"));

// ---- the rows --------------------------------------------------------------------------
// phase "bare": measured before the cluster starts (nothing of ours running alongside);
// phase "cluster": measured on this script's cluster. Rows print in this order.

function rowTable() {
  const rows = {};
  for (const [name, setup] of Object.entries(RAY_ROWS)) rows[name] = { phase: "cluster", ray: true, run: (ctx) => timedRow(setup, ctx) };
  for (const name of ["single_client_tasks_sync", "1_1_actor_calls_sync"]) rows[name].pingPongAround = true;
  Object.assign(rows, {
    init_to_first_result_ms: { phase: "bare", run: initToFirstResult },
    idle_worker_rss_mb: { phase: "cluster", run: idleWorkerRss },
    idle_worker_rss_after_load_mb: { phase: "cluster", run: idleWorkerRssAfterLoad },
    pool_map_100k_per_s: { phase: "cluster", run: poolMap },
    memory_growth_mb_per_100k_tasks: { phase: "bare", long: true, run: memoryGrowthRow },
    raw_socket_pingpong_per_s: { phase: "bare", run: (ctx) => pingPong(ctx, "tcp") },
    raw_unix_socket_pingpong_per_s: { phase: "bare", run: (ctx) => pingPong(ctx, "unix") },
    memcpy_gb_per_s: { phase: "bare", run: memcpy },
  });
  return rows;
}

async function timedRow(setup, ctx) {
  const w = await setup(ctx.sizes);
  try {
    const r = await timeit(w.fn, { multiplier: w.multiplier ?? 1, timing: ctx.timing });
    return { unit: w.unit, ...r };
  } finally {
    await w.cleanup?.();
  }
}

// ---- running ---------------------------------------------------------------------------

async function main() {
  const ROWS = rowTable();
  const names = pickRows(ROWS, flags.rows);
  const ctx = { quick, timing, sizes, numCpus, root };
  console.log(`helios bench: ${names.length} row(s); timeit: settle ${timing.settle} s, warm-up ${timing.warmup} s, ` +
    `${timing.rounds} round(s) of ${timing.seconds} s; ${numCpus} CPU(s), n_cpu ${nCpu()}, node ${process.version}${quick ? " (quick)" : ""}`);

  const results = {};
  const failures = {};
  const notes = [];
  const runRow = async (name) => {
    collectGarbage();
    const t0 = performance.now();
    process.stderr.write(`  ${name} …\n`);
    let timer;
    try {
      // A row that hangs fails with the agent's view of the workers, and the run goes on.
      const limit = new Promise((_, reject) => {
        timer = setTimeout(() => void describeStuck().then((d) => reject(new Error(`no result after ${rowTimeout} s; ${d}`))), rowTimeout * 1000);
      });
      // A row held against the Unix ping-pong has it measured right before and after it too: this
      // machine's wake-up latency swings 2x within minutes, and the row is compared with the mean
      // of the two (compare.mjs), not with the ping-pong row measured minutes away.
      const around = ROWS[name].pingPongAround && !quick ? [await pingPong(ctx, "unix")] : undefined;
      results[name] = await Promise.race([ROWS[name].run(ctx), limit]);
      if (around) {
        around.push(await pingPong(ctx, "unix"));
        results[name].adjacentBaseline = { name: "raw_unix_socket_pingpong_per_s", mean: (around[0].mean + around[1].mean) / 2,
          before: around[0].mean, after: around[1].mean };
      }
      process.stderr.write(`  ${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      failures[name] = String(e?.stack ?? e);
      process.stderr.write(`  ${name}: FAILED: ${e?.stack ?? e}\n`);
    } finally {
      clearTimeout(timer);
    }
  };

  for (const name of names.filter((n) => ROWS[n].phase === "bare")) await runRow(name);
  const onCluster = names.filter((n) => ROWS[n].phase === "cluster");
  if (onCluster.length) {
    await init({ numCpus });
    try {
      // The idle-worker row first, on workers that ran only its few tasks; then the warm-up
      // (3 s of sync tasks: the JIT warms up before the timed rows), the idle worker after it,
      // and the rest in table order.
      const memoryRows = ["idle_worker_rss_mb", "idle_worker_rss_after_load_mb"];
      if (onCluster.includes(memoryRows[0])) await runRow(memoryRows[0]);
      const until = performance.now() + (quick ? 0 : 3000);
      do await get(small_value.remote()); while (performance.now() < until);
      const order = [...onCluster.filter((n) => n === memoryRows[1]), ...onCluster.filter((n) => !memoryRows.includes(n))];
      for (const name of order) {
        const waited = await untilCpusFree(quick ? 10 : 30);
        if (waited > 1) {
          notes.push(`before ${name}: waited ${waited.toFixed(1)} s for the node's CPUs to come back (leases of the previous row)`);
          process.stderr.write(`  (${notes.at(-1)})\n`);
        }
        await runRow(name);
      }
    } finally {
      await shutdown();
    }
  }

  console.log("");
  printResults(names, results, Object.fromEntries(Object.keys(failures).map((n) => [n, "FAILED (see stderr)"])));
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  const report = {
    system: "helios", date: new Date().toISOString(), node: process.version, platform: `${os.platform()} ${os.arch()}`,
    cpuModel: os.cpus()[0]?.model, cores: os.availableParallelism(), numCpus, nCpu: nCpu(), quick, timing, sizes,
    ...(notes.length ? { notes } : {}),
    rows: Object.fromEntries(names.filter((n) => results[n]).map((n) => [n, results[n]])),
    ...(Object.keys(failures).length ? { failures } : {}),
  };
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + "\n");
  const shown = path.relative(process.cwd(), jsonPath);
  console.log(`\nwrote ${shown.startsWith("..") ? jsonPath : shown}`);
  // A row that timed out may still hold the event loop (its get() waits): end here.
  if (Object.keys(failures).length) process.exit(1);
}

/**
 * Wait until the agent has all its CPUs free again (every lease returned), at most `limit` s;
 * returns the seconds waited. Rows start on a quiet node, as Ray's timer sleeps first; a
 * killed actor's idle task leases have been seen to linger for seconds, and an actor needs a
 * free CPU to be placed.
 */
async function untilCpusFree(limit) {
  const t0 = performance.now();
  for (;;) {
    const info = await runtime().core.agent.call("info");
    if ((info.available.CPU ?? 0) >= (info.total.CPU ?? 0)) break;
    if (performance.now() - t0 > limit * 1000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return (performance.now() - t0) / 1000;
}

async function describeStuck() {
  if (!isInitialized()) return "the cluster is not running";
  try {
    const info = await runtime().core.agent.call("info");
    return `agent: available ${JSON.stringify(info.available)}, workers ${JSON.stringify(info.workers.map((w) => ({ pid: w.pid, state: w.state, actor: w.actorId })))}`;
  } catch (e) {
    return `the agent did not answer: ${e}`;
  }
}

// ---- flags -----------------------------------------------------------------------------

function pickRows(ROWS, spec) {
  if (!spec) return Object.keys(ROWS).filter((n) => flags.long || !ROWS[n].long);
  const names = spec.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in ROWS));
  if (unknown.length || !names.length) usage(`unknown row(s) ${unknown.join(", ") || "(none given)"}; known rows: ${Object.keys(ROWS).join(", ")}`);
  return Object.keys(ROWS).filter((n) => names.includes(n));
}

function positiveInt(flag, text, fallback) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usage(`${flag} takes a positive integer, got '${text}'`);
  return n;
}

function nonNegative(flag, text, fallback) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(n >= 0) || !Number.isFinite(n)) usage(`${flag} takes a number ≥ 0, got '${text}'`);
  return n;
}

function usage(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
