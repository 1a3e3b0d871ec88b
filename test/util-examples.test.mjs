// The helios/util examples: each runs with one command, prints what it promises, and takes
// its head, node agent and workers with it. Needs `npm run build` first (they import dist/).
import test from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./helpers.mjs";
import { countFile, mergeCounts, topWords } from "../examples/lib/words.mjs";
import { blockSeed, blockSum, combine } from "../examples/lib/blocks.mjs";
import { parseCsv, summarize, formatRow } from "../examples/lib/stats.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const clusterScripts = ["dist/head/main.js", "dist/node-agent/main.js", "dist/src/worker/main.js"].map((s) => path.join(repo, s));
const TIMEOUT_MS = 60_000;
const TAG = `util-examples-${randomBytes(6).toString("hex")}`;

/** Cluster processes (head, agent, workers) started by our examples: they carry TAG in their environment. */
function ourClusterProcesses() {
  const out = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
  const pids = [];
  for (const line of out.split("\n").slice(1)) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m || !clusterScripts.some((s) => m[2].includes(s))) continue;
    try {
      if (fs.readFileSync(`/proc/${m[1]}/environ`, "utf8").split("\0").includes(`HELIOS_UTIL_EXAMPLE=${TAG}`)) pids.push(Number(m[1]));
    } catch { /* gone already, or not ours to read */ }
  }
  return pids;
}

/** Run `node examples/<name>.mjs`; returns its stdout once it exited 0 and left no process behind. */
async function runExample(name) {
  const child = spawn(process.execPath, [`examples/${name}.mjs`], {
    cwd: repo, env: { ...process.env, HELIOS_UTIL_EXAMPLE: TAG }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const seen = new Set();
  const watch = setInterval(() => { for (const p of ourClusterProcesses()) seen.add(p); }, 200);
  const killer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  const [code, signal] = await new Promise((resolve) => child.on("close", (c, s) => resolve([c, s])));
  clearInterval(watch);
  clearTimeout(killer);
  const output = `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  assert.equal(signal, null, `${name} did not finish within ${TIMEOUT_MS / 1000} s\n${output}`);
  assert.equal(code, 0, `${name} exited with code ${code}\n${output}`);
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  await waitFor(() => [...seen, ...ourClusterProcesses()].every((p) => !alive(p)), 5000, `${name}'s cluster processes to exit`);
  return stdout.split("\n").filter((l) => l !== "");
}

test("pool-apply: a pool of 4 squares 10 numbers and prints them in order", { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const lines = await runExample("pool-apply");
  assert.deepEqual(lines, Array.from({ length: 10 }, (_, i) => `${i} squared is ${i * i}`));
});

test("processes: four processes are started and joined, each with exit code 0", { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const lines = (await runExample("processes")).filter((l) => !l.startsWith("("));   // worker logs are prefixed
  const names = ["ada", "grace", "alan", "edsger"];
  names.forEach((n, i) => assert.match(lines[i], new RegExp(`^greet-${n}: exitCode=0, ${n} greeted ${i + 1} time\\(s\\) by pid \\d+$`)));
  assert.match(lines[4], /^driver pid \d+; 4 of 4 processes succeeded$/);
});

test("queue-workers: four worker tasks drain a queue of ten jobs", { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const lines = await runExample("queue-workers");
  const sumSquares = (n) => (n * (n + 1) * (2 * n + 1)) / 6;
  for (let id = 1; id <= 10; id++) {
    assert.match(lines[id - 1], new RegExp(`^job +${id}: sum of squares 1\\.\\.${id * 1000} = ${sumSquares(id * 1000)} \\(worker-[1-4]\\)$`));
  }
  const m = /^10 jobs done by 4 workers: (\d+) \+ (\d+) \+ (\d+) \+ (\d+) = 10$/.exec(lines[10]);
  assert.ok(m, lines[10]);
  assert.equal(m.slice(1).map(Number).reduce((a, b) => a + b, 0), 10);
});

test("gather: hundreds of async calls are awaited together", { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const lines = await runExample("gather");
  assert.match(lines[0], /^gathered 200 lookups and 20 cubes in \d+ ms/);
  assert.equal(lines[1], "sum of lookups = 39800; sum of cubes = 36100");
});

test("wordcount: a MapReduce over the text files prints per-file counts and the top words", { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const lines = await runExample("wordcount");
  const dir = path.join(repo, "examples", "data");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".txt")).sort();
  const parts = files.map((f) => countFile(path.join(dir, f)));
  const counts = mergeCounts(parts);
  const total = (c) => Object.values(c).reduce((a, b) => a + b, 0);
  files.forEach((f, i) => assert.equal(lines[i], `${f.padEnd(16)} ${String(total(parts[i])).padStart(5)} words`));
  assert.equal(lines[files.length], `${files.length} files, ${total(counts)} words, ${Object.keys(counts).length} distinct`);
  assert.equal(lines[files.length + 1], `top 10: ${topWords(counts, 10).map(([w, n]) => `${w} ${n}`).join(", ")}`);
  assert.match(lines[files.length + 1], /^top 10: the \d+/);
});

test("dask-mean: the blocked mean of a 10,000 × 10,000 random array matches a local computation", { timeout: TIMEOUT_MS + 30_000 }, async () => {
  const lines = await runExample("dask-mean");
  assert.equal(lines[0], "array 10000 x 10000 in 100 blocks of 1000 x 1000: 100000000 values");
  const rows = Array.from({ length: 10 }, (_, i) => combine(Array.from({ length: 10 }, (_, j) => blockSum(blockSeed(i, j, 10), 1000, 1000))));
  const { sum, count } = combine(rows);   // the same blocks, combined in the same order as the example's tasks
  const m = /^mean = ([\d.]+) \([\d.]+ s\)$/.exec(lines[1]);
  assert.ok(m, lines[1]);
  assert.equal(m[1], (sum / count).toPrecision(12));
  assert.ok(Math.abs(Number(m[1]) - 0.5) < 1e-3, "a uniform [0, 1) mean is close to 0.5");
});

test("csv-summary: count, mean, std, min and max per column of the CSV", { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const lines = await runExample("csv-summary");
  const { header, columns } = parseCsv(fs.readFileSync(path.join(repo, "examples", "data", "weather.csv"), "utf8"));
  assert.equal(lines[0], `weather.csv: ${columns[0].length} rows, ${header.length} columns`);
  assert.match(lines[1], /^column\s+count\s+mean\s+std\s+min\s+max$/);
  header.forEach((name, i) => assert.equal(lines[i + 2], formatRow(name, summarize(columns[i]))));
  assert.equal(lines.length, header.length + 2);
});
