// Helios microbenchmarks: `npm run bench` (builds first) or `node bench/run.mjs [flags]`.
//
// Starts one local cluster, runs sync tasks for 3 s (workers start, the JIT warms up), then
// measures per row a 1 s warm-up and several timed rounds (default 5 rounds of ~1 s each),
// reporting the mean ± sample standard deviation of the rounds:
//   tasks_sync_per_s               await get(f.remote()), one task at a time
//   tasks_async_per_s              submit a batch of tasks, then get them all
//   actor_calls_sync_per_s         await get(a.ping.remote()), one call at a time (sync method)
//   actor_calls_async_per_s        a batch of sync-method calls, then get them all
//   async_actor_calls_async_per_s  a batch of calls to an async method (actor maxConcurrency 1000)
//   put_gb_per_s                   put() of a 100 MB Float64Array (goes to the node's object store)
//   get_gb_per_s                   get() of that array, put once beforehand
//   put_small_per_s                put() of small values
//
// Flags: --rounds N, --seconds S (round length), --rows a,b (pick rows), --num-cpus N,
//        --json PATH (default bench/results/latest.json), --quick (1 round, tiny counts).
//
// Benchmarks are not tests: the figures depend on the machine and its load, and nothing
// here asserts a speed. test/bench.test.mjs only runs `--quick` to check the script works.
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { init, shutdown, remote, put, get } from "helios";

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string" },
    seconds: { type: "string" },
    rows: { type: "string" },
    json: { type: "string" },
    "num-cpus": { type: "string" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  console.log("usage: node bench/run.mjs [--rounds N] [--seconds S] [--rows a,b] [--num-cpus N] [--json PATH] [--quick]");
  process.exit(0);
}

const quick = flags.quick;
const settings = {
  rounds: positiveInt("--rounds", flags.rounds, quick ? 1 : 5),
  roundMs: quick ? 0 : positiveNumber("--seconds", flags.seconds, 1) * 1000,
  startupMs: quick ? 0 : 3000,  // sync tasks once after init: workers start, the JIT warms up
  warmupMs: quick ? 0 : 1000,
  batch: quick ? 10 : 1000,
  bigBytes: quick ? 1e6 : 100e6,
  smallBatch: quick ? 10 : 1000,
};
const jsonPath = path.resolve(flags.json ?? path.join(here, "results", "latest.json"));

// ---- the rows ------------------------------------------------------------------------
// Each row has a unit, an optional setup (run once, after init) and a step that does one
// unit of work and returns how much it did (operations, or GB for the bandwidth rows).

const ROWS = {
  tasks_sync_per_s: { unit: "tasks/s", step: async (c) => { await get(c.noop.remote()); return 1; } },
  tasks_async_per_s: { unit: "tasks/s", step: async (c) => batch(() => c.noop.remote()) },
  actor_calls_sync_per_s: { unit: "calls/s", step: async (c) => { await get(c.actor.ping.remote()); return 1; } },
  actor_calls_async_per_s: { unit: "calls/s", step: async (c) => batch(() => c.actor.ping.remote()) },
  async_actor_calls_async_per_s: { unit: "calls/s", step: async (c) => batch(() => c.asyncActor.aping.remote()) },
  put_gb_per_s: {
    unit: "GB/s",
    step: async (c) => {
      put(c.big);
      await turn();   // let finalizers run so dropped 100 MB objects leave the store
      return c.big.byteLength / 1e9;
    },
  },
  get_gb_per_s: {
    unit: "GB/s",
    setup: (c) => { c.bigRef = put(c.big); },
    step: async (c) => {
      const v = await get(c.bigRef);
      if (v.length !== c.big.length) throw new Error(`get() returned ${v.length} items, expected ${c.big.length}`);
      return v.byteLength / 1e9;
    },
  },
  put_small_per_s: {
    unit: "puts/s",
    step: async () => {
      for (let i = 0; i < settings.smallBatch; i++) put({ i, s: "small" });
      await turn();
      return settings.smallBatch;
    },
  },
};

async function batch(submit) {
  const refs = new Array(settings.batch);
  for (let i = 0; i < refs.length; i++) refs[i] = submit();
  await get(refs);
  return refs.length;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

// ---- measuring ------------------------------------------------------------------------

/** Repeat `step` until `ms` have passed (at least once); return the work done per second. */
async function round(step, ctx, ms) {
  let work = 0;
  let elapsed = 0;
  const t0 = performance.now();
  do {
    work += await step(ctx);
    elapsed = performance.now() - t0;
  } while (elapsed < ms);
  return work / (elapsed / 1000);
}

function stats(xs) {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, stddev: Math.sqrt(variance) };
}

async function main() {
  const names = pickRows(flags.rows);
  const numCpus = positiveInt("--num-cpus", flags["num-cpus"], os.availableParallelism());
  console.log(`helios bench: ${settings.rounds} round(s) of ${settings.roundMs / 1000} s, batch ${settings.batch}, ` +
    `big array ${settings.bigBytes / 1e6} MB, ${numCpus} CPU(s), node ${process.version}${quick ? " (quick)" : ""}`);

  await init({ numCpus });
  const results = {};
  try {
    const Bench = remote(class Bench { ping() { return 1; } async aping() { return 1; } });
    const ctx = {
      noop: remote(() => 1),
      actor: Bench.remote(),
      asyncActor: Bench.options({ maxConcurrency: 1000 }).remote(),
      big: new Float64Array(settings.bigBytes / 8).fill(1.5),
    };
    await round(ROWS.tasks_sync_per_s.step, ctx, settings.startupMs);
    for (const name of names) {
      const row = ROWS[name];
      await row.setup?.(ctx);
      await round(row.step, ctx, settings.warmupMs);
      const rates = [];
      for (let r = 0; r < settings.rounds; r++) rates.push(await round(row.step, ctx, settings.roundMs));
      results[name] = { unit: row.unit, ...stats(rates), rounds: rates };
      process.stderr.write(`  ${name} done\n`);
    }
  } finally {
    await shutdown();
  }

  printTable(names.map((n) => [n, results[n]]));
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
  const report = { date: new Date().toISOString(), node: process.version, platform: `${os.platform()} ${os.arch()}`,
    cpuModel: os.cpus()[0]?.model, numCpus, ...settings, quick, rows: results };
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + "\n");
  const shown = path.relative(process.cwd(), jsonPath);
  console.log(`\nwrote ${shown.startsWith("..") ? jsonPath : shown}`);
}

// ---- output and flags ------------------------------------------------------------------

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(v >= 10 ? 1 : 3);
}

function printTable(rows) {
  const lines = rows.map(([name, r]) => [name, fmt(r.mean), "±", fmt(r.stddev),
    r.mean ? `(${((100 * r.stddev) / r.mean).toFixed(1)}%)` : "", r.unit]);
  const header = ["row", "mean", "", "stddev", "", "unit"];
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => l[i].length)));
  const right = new Set([1, 3, 4]);   // numbers align right
  const render = (l) => l.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  console.log("\n" + render(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(render(l));
}

function pickRows(spec) {
  if (!spec) return Object.keys(ROWS);
  const names = spec.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in ROWS));
  if (unknown.length || !names.length) usage(`unknown row(s) ${unknown.join(", ") || "(none given)"}; known rows: ${Object.keys(ROWS).join(", ")}`);
  return names;
}

function positiveInt(flag, text, fallback) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usage(`${flag} takes a positive integer, got '${text}'`);
  return n;
}

function positiveNumber(flag, text, fallback) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) usage(`${flag} takes a positive number, got '${text}'`);
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
