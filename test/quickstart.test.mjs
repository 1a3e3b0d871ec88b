// The quickstart (examples/quickstart.ts, `npm start`) is the first thing a new user runs:
// it must finish, print its results, and take its head, node agent and workers with it.
// Needs `npm run build` first (the quickstart imports "helios", i.e. dist/).
import test from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const clusterScripts = ["dist/head/main.js", "dist/node-agent/main.js", "dist/src/worker/entry.js"].map((s) => path.join(repo, s));
const TIMEOUT_MS = 90_000;

/** Processes running this repo's head, node agent or worker: pid → command line. */
function clusterProcesses() {
  const out = execFileSync("ps", ["-eo", "pid,ppid,args"], { encoding: "utf8" });
  const found = new Map();
  for (const line of out.split("\n").slice(1)) {
    const m = /^\s*(\d+)\s+\d+\s+(.*)$/.exec(line);
    if (m && clusterScripts.some((s) => m[2].includes(s))) found.set(Number(m[1]), m[2]);
  }
  return found;
}

// Other runs of Helios may share the machine. Every process of ours inherits TAG through
// its environment; where /proc can tell, only tagged processes count as ours.
const TAG = `quickstart-test-${randomBytes(6).toString("hex")}`;
const canReadEnv = fs.existsSync(`/proc/${process.pid}/environ`);
function tagged(pid) {
  try { return fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`HELIOS_QUICKSTART_TEST=${TAG}`); }
  catch { return false; }
}

test("the quickstart runs end to end and leaves no process behind", { timeout: TIMEOUT_MS + 15_000 }, async () => {
  const before = clusterProcesses();
  const seen = new Map(); // our cluster processes, observed while the quickstart ran

  const child = spawn(path.join(repo, "node_modules/.bin/tsx"), ["examples/quickstart.ts"], {
    cwd: repo, env: { ...process.env, HELIOS_QUICKSTART_TEST: TAG }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const watch = setInterval(() => {
    for (const [pid, args] of clusterProcesses()) if (!before.has(pid) && (!canReadEnv || tagged(pid))) seen.set(pid, args);
  }, 200);
  const killer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  const [code, signal] = await new Promise((resolve) => child.on("close", (c, s) => resolve([c, s])));
  clearInterval(watch);
  clearTimeout(killer);

  const output = `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  assert.equal(signal, null, `the quickstart did not finish within ${TIMEOUT_MS / 1000} s\n${output}`);
  assert.equal(code, 0, `the quickstart exited with code ${code}\n${output}`);

  // a. Monte Carlo π, with the measured speed-up
  assert.match(stdout, /π ≈ 3\.1\d* from [\d,]+ samples in \d+ tasks, [\d.]+ s \(speed-up [\d.]+x over one process/, output);
  // b. word count: a summary line and the top 5 words, "the" first
  assert.match(stdout, /word count: [\d,]+ words \([\d,]+ distinct\) in \d+ files/, output);
  const ranked = [...stdout.matchAll(/^\s+(\d)\. (\S+)\s+(\d+)$/gm)];
  assert.deepEqual(ranked.map((m) => m[1]), ["1", "2", "3", "4", "5"], output);
  assert.equal(ranked[0][2], "the", output);
  // c. the actor's state, kept across its calls
  assert.match(stdout, /actor PiTally, running estimate after each call: 3\.\d{4}(, 3\.\d{4})+/, output);
  assert.match(stdout, /actor state: \d+ calls, [\d,]+ samples, π ≈ 3\.1\d*/, output);

  if (canReadEnv) {
    const kinds = new Set([...seen.values()].map((args) => clusterScripts.find((s) => args.includes(s))));
    assert.equal(kinds.size, 3, `expected to see the quickstart's head, node agent and workers while it ran; saw ${[...seen.values()].join(" | ")}`);
  }

  // Nothing the quickstart started may outlive it (allow up to 3 s for exits to finish).
  const ours = (pid) => !before.has(pid) && (!canReadEnv || tagged(pid));
  let left = [];
  for (const deadline = Date.now() + 3000; ;) {
    left = [...clusterProcesses()].filter(([pid]) => ours(pid));
    if (left.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));   // polls other processes' exits: no event to wait on
  }
  for (const [pid] of left) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
  assert.deepEqual(left.map(([pid, args]) => `${pid} ${args}`), [], "processes left behind by the quickstart");
});
