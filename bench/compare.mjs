// Helios against Ray and Python's multiprocessing on this machine: `npm run bench:compare`.
//
// Runs, one after the other: bench/run.mjs (Helios rows and physical baselines),
// bench/ray/ray_bench.py (the same workloads on Ray) and bench/ray/mp_bench.py
// (multiprocessing.Pool(2)); then prints every row with Helios, Ray, Helios/Ray, the physical
// baseline it is held against, and whether it meets its target. Writes
// bench/results/compare.json (and the three runs' own JSON next to it).
//
// Flags: --python PATH (else $HELIOS_BENCH_PYTHON, else python3; without `import ray` the Ray
//        rows are skipped with a note, and without Python the multiprocessing rows too)
//        --rounds N  --seconds S  --settle S  --quick  --long (passed to every run)
//        --rows a,b (Helios and Ray rows to run; the multiprocessing rows run with pool_map)
//        --no-run (only print the comparison again from the three runs' JSON; rewrites
//        compare.json only with --json PATH)
//        --markdown (print the table as Markdown)   --json PATH (default bench/results/compare.json)
import { parseArgs } from "node:util";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, printTable } from "./timeit.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const results = path.join(here, "results");

const { values: flags } = parseArgs({
  options: {
    python: { type: "string" },
    rows: { type: "string" },
    rounds: { type: "string" },
    seconds: { type: "string" },
    settle: { type: "string" },
    json: { type: "string" },
    quick: { type: "boolean", default: false },
    long: { type: "boolean", default: false },
    "no-run": { type: "boolean", default: false },
    markdown: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log("usage: node bench/compare.mjs [--python PATH] [--rows a,b] [--rounds N] [--seconds S] [--settle S] [--quick] [--long] [--no-run] [--markdown] [--json PATH]");
  process.exit(0);
}

const RAY_ROWS = ["single_client_tasks_sync", "single_client_tasks_async", "multi_client_tasks_async",
  "1_1_actor_calls_sync", "1_1_actor_calls_async", "1_1_actor_calls_concurrent", "1_n_actor_calls_async",
  "n_n_actor_calls_async", "1_1_async_actor_calls_sync", "1_1_async_actor_calls_async", "single_client_put_calls",
  "single_client_get_calls", "single_client_put_gigabytes", "single_client_tasks_and_get_batch",
  "single_client_get_object_containing_10k_refs", "single_client_wait_1k_refs"];
const PINGPONG = "raw_socket_pingpong_per_s";
/** Sync calls are held against the Unix-socket ping-pong: the transport Helios uses between processes of one machine. */
const UNIX_PINGPONG = "raw_unix_socket_pingpong_per_s";
const MEMCPY = "memcpy_gb_per_s";
const MP_MAP = "mp_pool_map_100k_per_s";

/** Targets: each row's checks. kind "ray": Helios/Ray ≥ min; "base": Helios/baseline ≥ min; "max"/"min": absolute. */
const TARGETS = {
  ...Object.fromEntries(RAY_ROWS.map((n) => [n, [{ kind: "ray", min: n === "single_client_put_gigabytes" ? 1 : 2 }]])),
  single_client_tasks_sync: [{ kind: "ray", min: 2 }, { kind: "base", of: UNIX_PINGPONG, min: 0.5 }],
  "1_1_actor_calls_sync": [{ kind: "ray", min: 2 }, { kind: "base", of: UNIX_PINGPONG, min: 0.5 }],
  single_client_put_gigabytes: [{ kind: "ray", min: 1 }, { kind: "base", of: MEMCPY, min: 0.4 }],
  pool_map_100k_per_s: [{ kind: "base", of: MP_MAP, min: 1 }],
  init_to_first_result_ms: [{ kind: "max", value: 500 }],
  idle_worker_rss_mb: [{ kind: "max", value: 50 }],
};
const LABEL = { [PINGPONG]: "TCP ping-pong", [UNIX_PINGPONG]: "Unix ping-pong", [MEMCPY]: "memcpy", [MP_MAP]: "mp Pool.map" };

async function main() {
  const files = { helios: path.join(results, "helios.json"), ray: path.join(results, "ray.json"), mp: path.join(results, "mp.json") };
  const notes = [];
  if (!flags["no-run"]) {
    for (const f of Object.values(files)) fs.rmSync(f, { force: true });
    await runAll(files, notes);
  } else {
    const previous = path.resolve(flags.json ?? path.join(results, "compare.json"));
    if (fs.existsSync(previous)) notes.push(...(JSON.parse(fs.readFileSync(previous, "utf8")).notes ?? []).filter((n) => !n.startsWith("--no-run") && !n.startsWith("Helios run:") && !/ failed: /.test(n)));
    console.log("--no-run: the figures of the last run");
  }
  const read = (f) => (fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : undefined);
  const helios = read(files.helios);
  const ray = read(files.ray);
  const mp = read(files.mp);
  if (!helios) throw new Error(`no Helios results in ${files.helios}`);
  for (const n of helios.notes ?? []) notes.push(`Helios run: ${n}`);
  for (const [n, why] of Object.entries({ ...helios.failures, ...ray?.failures })) notes.push(`${n} failed: ${why.split("\n")[0]}`);

  const h = helios.rows ?? {};
  const r = ray?.rows ?? {};
  const baselines = { ...h, ...(mp?.rows ?? {}) };
  const rows = [];
  const names = [...Object.keys(h), ...Object.keys(mp?.rows ?? {}).filter((n) => !(n in h))];
  for (const name of names) {
    const hv = h[name]?.mean;
    const rv = r[name]?.mean;
    const row = { name, unit: (h[name] ?? baselines[name]).unit, helios: hv, heliosStd: h[name]?.stddev,
      ray: rv, rayStd: r[name]?.stddev, ratio: hv !== undefined && rv ? hv / rv : undefined, checks: [] };
    if (!(name in h)) { row.helios = undefined; row.baselineOnly = baselines[name]; }
    for (const t of TARGETS[name] ?? []) {
      if (t.kind === "ray") {
        row.checks.push({ target: `≥ ${t.min}x Ray`, met: row.ratio === undefined ? undefined : row.ratio >= t.min });
      } else if (t.kind === "base") {
        // A baseline measured right around the row (run.mjs: the sync rows) is the one it is held against.
        const adjacent = h[name]?.adjacentBaseline?.name === t.of ? h[name].adjacentBaseline : undefined;
        const bv = adjacent?.mean ?? baselines[t.of]?.mean;
        row.baseline = { name: t.of, value: bv, adjacent: !!adjacent, ratio: hv !== undefined && bv ? hv / bv : undefined };
        row.checks.push({ target: `≥ ${t.min >= 1 ? `${t.min}x` : `${t.min * 100}%`} ${LABEL[t.of]}`,
          met: row.baseline.ratio === undefined ? undefined : row.baseline.ratio >= t.min });
      } else if (t.kind === "max") {
        row.checks.push({ target: `≤ ${t.value} ${row.unit}`, met: hv === undefined ? undefined : hv <= t.value });
      }
    }
    rows.push(row);
  }

  const below = rows.filter((x) => x.checks.some((c) => c.met === false));
  printComparison(rows, helios, ray, mp, notes);
  const report = {
    date: helios.date, generated: new Date().toISOString(), platform: `${os.platform()} ${os.arch()}`, cpuModel: os.cpus()[0]?.model,
    cores: os.availableParallelism(), memoryGb: Math.round(os.totalmem() / 1e9), node: process.version,
    python: ray?.python ?? mp?.python, ray: ray?.ray, notes, quick: helios.quick, timing: helios.timing,
    rows, belowTarget: below.map((x) => x.name), runs: { helios, ray, mp },
  };
  console.log(`\nbelow target: ${below.length ? below.map((x) => x.name).join(", ") : "none"}`);
  if (!flags["no-run"] || flags.json) {   // --no-run rewrites the comparison only when asked (--json)
    const out = path.resolve(flags.json ?? path.join(results, "compare.json"));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  }
}

// ---- running the three benchmarks ---------------------------------------------------------

async function runAll(files, notes) {
  const pass = [];
  for (const k of ["rounds", "seconds", "settle"]) if (flags[k] !== undefined) pass.push(`--${k}`, flags[k]);
  if (flags.quick) pass.push("--quick");
  const rows = flags.rows?.split(",").map((s) => s.trim()).filter(Boolean);
  if (rows) {   // bring along the physical baselines the picked rows are held against
    for (const n of [...rows]) for (const t of TARGETS[n] ?? []) if (t.kind === "base" && !t.of.startsWith("mp_") && !rows.includes(t.of)) rows.push(t.of);
  }

  banner("Helios");
  await run(process.execPath, [path.join(here, "run.mjs"), ...pass, ...(flags.long ? ["--long"] : []),
    ...(rows ? ["--rows", rows.filter((n) => !n.startsWith("mp_")).join(",")] : []), "--json", files.helios]);

  const python = flags.python ?? process.env.HELIOS_BENCH_PYTHON ?? "python3";
  const probe = spawnSync(python, ["-c", "import sys; print(sys.version.split()[0])"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    notes.push(`Ray and multiprocessing rows skipped: cannot run Python '${python}' (${probe.error?.code ?? probe.stderr.trim()}); pass --python PATH or set HELIOS_BENCH_PYTHON`);
    console.log(`\nnote: ${notes.at(-1)}`);
    return;
  }
  const rayProbe = spawnSync(python, ["-c", "import ray, numpy; print(ray.__version__)"], { encoding: "utf8" });
  const rayRows = rows ? rows.filter((n) => RAY_ROWS.includes(n)) : RAY_ROWS;
  if (rayProbe.status !== 0) {
    const why = rayProbe.stderr.trim().split("\n").at(-1);
    notes.push(`Ray rows skipped: ${python} cannot import ray and numpy (${why}). Install them with ` +
      "`python3 -m venv v && v/bin/pip install ray numpy` and pass --python v/bin/python");
    console.log(`\nnote: ${notes.at(-1)}`);
  } else if (rayRows.length) {
    banner(`Ray ${rayProbe.stdout.trim()} (${python})`);
    await run(python, [path.join(here, "ray/ray_bench.py"), ...pass, ...(rows ? ["--rows", rayRows.join(",")] : []), "--json", files.ray]);
  }
  if (!rows || rows.some((n) => n === "pool_map_100k_per_s" || n.startsWith("mp_"))) {
    banner(`multiprocessing (${python})`);
    await run(python, [path.join(here, "ray/mp_bench.py"), ...pass, "--json", files.mp]);
  }
}

function banner(what) {
  console.log(`\n==== ${what} ${"=".repeat(Math.max(0, 70 - what.length))}`);
}

/** Run a benchmark with its output on our terminal; a failure is reported, not fatal. */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", (e) => { console.error(`could not run ${cmd}: ${e.message}`); resolve(1); });
    child.on("close", (code, signal) => {
      if (code !== 0) console.error(`${path.basename(args[0])} exited with ${code ?? signal}; its rows that finished are kept`);
      resolve(code);
    });
  });
}

// ---- output ---------------------------------------------------------------------------------

function printComparison(rows, helios, ray, mp, notes) {
  const pct = (v, s) => (v && s !== undefined ? `±${((100 * s) / Math.abs(v)).toFixed(0)}%` : "");
  const ratio = (x) => (x === undefined ? "-" : x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`);
  const met = (c) => (c.met === undefined ? "n/a" : c.met ? "yes" : "NO");
  const header = ["row", "unit", "Helios", "±", "Ray", "±", "Helios/Ray", "baseline", "Helios/baseline", "target", "met"];
  const lines = rows.map((x) => {
    const value = x.baselineOnly ? x.baselineOnly.mean : x.helios;
    const std = x.baselineOnly ? x.baselineOnly.stddev : x.heliosStd;
    const base = x.baseline ? `${LABEL[x.baseline.name]}${x.baseline.adjacent ? " (around it)" : ""} ${fmt(x.baseline.value)}` : "";
    const baseRatio = x.baseline?.ratio === undefined ? "" : x.baseline.ratio >= 1 ? ratio(x.baseline.ratio) : `${(100 * x.baseline.ratio).toFixed(0)}%`;
    return [x.name + (x.baselineOnly ? " (Python)" : ""), x.unit, fmt(value), pct(value, std), x.ray === undefined ? "-" : fmt(x.ray),
      pct(x.ray, x.rayStd), x.ray === undefined ? "" : ratio(x.ratio), base, baseRatio,
      x.checks.map((c) => c.target).join("; "), x.checks.map(met).join("; ")];
  });
  console.log(`\n==== comparison ${"=".repeat(60)}`);
  console.log(`${os.availableParallelism()} cores (${os.cpus()[0]?.model}), node ${helios.node}` +
    (ray ? `, Ray ${ray.ray} on Python ${ray.python}` : "") + (mp ? `, multiprocessing on Python ${mp.python}` : "") +
    `; timeit: ${helios.timing.rounds} round(s) of ${helios.timing.seconds} s after ${helios.timing.warmup} s warm-up` +
    (helios.quick ? " (quick)" : ""));
  for (const n of notes) console.log(`note: ${n}`);
  console.log("");
  if (flags.markdown) {
    const md = (l) => `| ${l.map((c) => String(c).replaceAll("|", "\\|")).join(" | ")} |`;
    console.log(md(header));
    console.log(md(header.map((_, i) => (i >= 2 && i <= 8 ? "---:" : "---"))));
    for (const l of lines) console.log(md(l));
  } else {
    printTable(header, lines, new Set([2, 3, 4, 5, 6, 8]));
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
