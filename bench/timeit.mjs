// Timing and reporting shared by the bench scripts.
//
// timeit() is Ray's `ray._private.ray_microbenchmark_helpers.timeit` (the timer of
// `ray microbenchmark`), step for step, so Helios and Ray figures are measured the same way:
//   1. sleep `settle` seconds (Ray: 10 s, "to avoid noisy neighbours");
//   2. warm up: call fn for 1 s, counting the calls;
//   3. step = count // 10 + 1;
//   4. `rounds` rounds (Ray: 4): call fn `step` times, again and again, until the round has
//      lasted 2 s; the round's rate is multiplier × calls / elapsed seconds;
//   5. report the mean and the standard deviation of the rounds (numpy's np.std: population).
// One difference, JavaScript's: after each batch of `step` calls the loop yields to the event
// loop once, so finalizers (ref counting) and I/O get their turn as CPython's refcounting does
// at once. A round always runs at least one batch, so --quick (0 s rounds) still measures.
import * as fs from "node:fs";

export const DEFAULT_TIMING = { settle: 2, warmup: 1, seconds: 2, rounds: 4 };
export const QUICK_TIMING = { settle: 0, warmup: 0, seconds: 0, rounds: 1 };

const now = () => performance.now();
export const turn = () => new Promise((resolve) => setImmediate(resolve));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ray's timeit: returns { mean, stddev, rounds } in multiplier-units per second. */
export async function timeit(fn, { multiplier = 1, timing }) {
  if (timing.settle > 0) await sleep(timing.settle * 1000);
  let start = now();
  let count = 0;
  while (now() - start < timing.warmup * 1000) {
    await fn();
    count++;
    await turn();
  }
  const step = Math.floor(count / 10) + 1;
  const rates = [];
  for (let r = 0; r < timing.rounds; r++) {
    start = now();
    count = 0;
    do {
      for (let i = 0; i < step; i++) await fn();
      count += step;
      await turn();
    } while (now() - start < timing.seconds * 1000);
    rates.push((multiplier * count) / ((now() - start) / 1000));
  }
  return { ...stats(rates), rounds: rates };
}

/** Mean and standard deviation as numpy computes them (np.mean, np.std with ddof=0). */
export function stats(xs) {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return { mean, stddev: Math.sqrt(variance) };
}

// ---- processes --------------------------------------------------------------------------

/** Resident set size of a process in MB (VmRSS of /proc/<pid>/status), or undefined if gone. */
export function rssMb(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Child processes of `parent` as { pid, cmdline }, read from /proc. */
export function childProcesses(parent = process.pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      out.push({ pid: Number(d), cmdline: fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ") });
    } catch { /* the process ended meanwhile */ }
  }
  return out;
}

// ---- output -----------------------------------------------------------------------------

export function fmt(v) {
  if (v === undefined || v === null) return "-";
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString("en-US");
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01 || a === 0) return v.toFixed(2);
  return v.toPrecision(2);
}

/** Print a table; `right` names the columns (by index) aligned right. */
export function printTable(header, lines, right = new Set()) {
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((l) => String(l[i] ?? "").length)));
  const render = (l) => l.map((c, i) => (right.has(i) ? String(c ?? "").padStart(widths[i]) : String(c ?? "").padEnd(widths[i])))
    .join("  ").trimEnd();
  console.log(render(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(render(l));
}

/** The table of one run: name, mean, ± stddev, unit. */
export function printResults(names, results, notes = {}) {
  const lines = names.map((n) => {
    const r = results[n];
    if (!r) return [n, "-", "", "", notes[n] ?? "skipped"];
    const pct = r.mean ? `(${((100 * r.stddev) / Math.abs(r.mean)).toFixed(1)}%)` : "";
    return [n, fmt(r.mean), `± ${fmt(r.stddev)}`, pct, r.unit];
  });
  printTable(["row", "mean", "± std", "", "unit"], lines, new Set([1, 2, 3]));
}
