// Rows of Helios's own: start-up latency, idle worker memory, Pool.map throughput, and
// memory growth over a million tasks. Each run(ctx) returns { unit, mean, stddev, rounds,
// details? }; ctx = { quick, timing, numCpus, root }.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { get } from "helios";
import { runtime } from "../dist/src/api.js";
import { collectGarbage } from "../dist/src/core/gc.js";
import { trivial } from "./workloads.mjs";
import { timeit, stats, rssMb, childProcesses, sleep } from "./timeit.mjs";

/** A fresh `node` process runs bench/first-result.mjs: init() → first get() result, in ms. */
export async function initToFirstResult(ctx) {
  const runs = ctx.quick ? 1 : 5;
  const ms = [];
  const wall = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const out = await runNode([path.join(ctx.root, "bench/first-result.mjs")], ctx.root, 60_000);
    wall.push(performance.now() - t0);
    const line = out.trim().split("\n").at(-1);
    ms.push(JSON.parse(line).ms);
  }
  return { unit: "ms", ...stats(ms), rounds: ms,
    details: { runs, note: "init() to the first get() result inside a fresh node process",
      processWallMs: stats(wall).mean } };
}

/** VmRSS of the idle (not leased, no actor) workers, after they ran a few tasks and went idle. */
export async function idleWorkerRss(ctx) {
  const { idle, rss, all } = await idleWorkers(ctx);
  return { unit: "MB", ...stats(rss), rounds: rss,
    details: { workers: idle.map((w, i) => ({ pid: w.pid, rssMb: rss[i] })), allWorkers: all } };
}

/**
 * The same, run after the warm-up's 3 s of sync tasks: the largest idle worker is the one that
 * ran them (V8's optimizing compiler has run in it, and its young generation has grown).
 */
export async function idleWorkerRssAfterLoad(ctx) {
  const { idle, rss, all } = await idleWorkers(ctx);
  const max = Math.max(...rss);
  return { unit: "MB", mean: max, stddev: 0, rounds: [max],
    details: { note: "the largest idle worker after 3 s of sync tasks", workers: idle.map((w, i) => ({ pid: w.pid, rssMb: rss[i] })), allWorkers: all } };
}

async function idleWorkers(ctx) {
  await get(Array.from({ length: 4 * ctx.numCpus }, (_, i) => trivial.remote(i)));
  await sleep(ctx.quick ? 300 : 2000);   // leases go back after 20 ms idle; let the workers settle
  const info = await runtime().core.agent.call("info");
  const idle = info.workers.filter((w) => w.state === "idle" && !w.actorId && rssMb(w.pid) !== undefined);
  if (!idle.length) throw new Error(`no idle worker to measure; the agent lists ${JSON.stringify(info.workers)}`);
  return { idle, rss: idle.map((w) => rssMb(w.pid)), all: info.workers.length };
}

/**
 * 100k trivial tasks, one item per task, through Pool.map: helios/util's Pool (chunksize 1,
 * its default number of processes: the cluster's CPUs) when the package has one, else a
 * helper here that does what Pool.map does (every item submitted as its own task, results
 * gathered in order).
 */
export async function poolMap(ctx) {
  const n = ctx.quick ? 1000 : 100_000;
  const items = Array.from({ length: n }, (_, i) => i);
  let pool;
  let which;
  try {
    const util = await import("helios/util");
    if (typeof util.Pool === "function" && typeof util.Pool.prototype.map === "function") {
      pool = new util.Pool();
      which = "helios/util Pool (chunksize 1)";
    }
  } catch { /* no helios/util yet */ }
  const map = pool
    ? () => pool.map(trivial, items, { chunksize: 1 })
    : () => get(items.map((x) => trivial.remote(x)));
  which ??= "bench helper: get(items.map((x) => f.remote(x)))";
  try {
    const r = await timeit(async () => {
      const out = await map();
      if (out.length !== n || out[n - 1] !== n - 1) throw new Error(`Pool.map returned ${out.length} items`);
    }, { multiplier: n, timing: ctx.timing });
    return { unit: "items/s", ...r, details: { items: n, pool: which } };
  } finally {
    if (pool) { pool.close?.(); await pool.join?.(); }
  }
}

/** The memory-growth row, in a fresh driver process with its own cluster (bench/memory-growth.mjs). */
export async function memoryGrowthRow(ctx) {
  const out = await runNode([path.join(ctx.root, "bench/memory-growth.mjs"), ...(ctx.quick ? ["--quick"] : [])], ctx.root, 30 * 60_000);
  return JSON.parse(out.trim().split("\n").at(-1));
}

/**
 * 1,000,000 trivial tasks in waves of 10,000 (submit the wave, get it); RSS of the head, the
 * agent and the driver before and after, each sample taken after a full GC of the driver (a
 * growing heap that V8 would collect anyway is not a leak). The row is their summed growth per
 * 100k tasks over the whole million (± the std of the ten 100k segments); details keep each
 * process's figures and the driver's live heap.
 */
export async function memoryGrowth(ctx) {
  const total = ctx.quick ? 20_000 : 1_000_000;
  const waveSize = ctx.quick ? 1000 : 10_000;
  const segment = total / 10;
  const procs = clusterPids();
  const sample = () => {
    collectGarbage();
    heapMb.push(process.memoryUsage().heapUsed / 2 ** 20);
    return Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, rssMb(pid) ?? NaN]));
  };
  const heapMb = [];
  const sum = (s) => Object.values(s).reduce((a, b) => a + b, 0);
  const wave = () => get(Array.from({ length: waveSize }, (_, i) => trivial.remote(i)));

  for (let i = 0; i < (ctx.quick ? 5 : 20); i++) await wave();   // warm up, then let the heaps settle
  await sleep(ctx.quick ? 100 : 2000);
  const before = sample();
  const samples = [before];
  const t0 = performance.now();
  for (let done = 0; done < total;) {
    await wave();
    done += waveSize;
    if (done % segment === 0) samples.push(sample());
  }
  const seconds = (performance.now() - t0) / 1000;
  await sleep(ctx.quick ? 100 : 2000);
  const after = sample();
  const perSegment = samples.slice(1).map((s, i) => ((sum(s) - sum(samples[i])) * 100_000) / segment);
  const growth = ((sum(after) - sum(before)) * 100_000) / total;
  return { unit: "MB/100k tasks", mean: growth, stddev: stats(perSegment).stddev, rounds: perSegment,
    details: { tasks: total, wave: waveSize, seconds, tasksPerS: total / seconds, pids: procs, beforeMb: before, afterMb: after,
      driverLiveHeapMb: heapMb.map((x) => Math.round(x * 10) / 10) } };
}

/** The driver plus the head and agent of its embedded cluster (children of this process). */
function clusterPids() {
  const kids = childProcesses();
  const head = kids.find((k) => /head\/main\.js/.test(k.cmdline));
  const agent = kids.find((k) => /node-agent\/main\.js/.test(k.cmdline));
  if (!head || !agent) throw new Error(`cannot find the head and agent among this process's children: ${JSON.stringify(kids)}`);
  return { head: head.pid, agent: agent.pid, driver: process.pid };
}

/** Run `node args…`; resolve with its stdout, reject on a non-zero exit or after `timeoutMs`. */
export function runNode(args, cwd, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`node ${args.join(" ")} exited with ${code ?? signal}\n${err}`));
    });
  });
}
