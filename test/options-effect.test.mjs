// Every accepted option does something: maxPendingCalls holds an actor handle's calls in flight,
// runtimeEnv.envVars (the job's, a task's, an actor's) are set in the worker processes that run
// them, and a worker started with other variables is not reused for them. Options that would do
// nothing are refused where they are given.
import { before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { remote, get, getActor, kill, InvalidArgumentError, PendingCallsLimitExceededError, isHeliosError } from "helios";
import { checkInitOptions } from "../dist/src/options.js";
import { startCluster, clusterTest } from "./helpers.mjs";

/** An InvalidArgumentError whose message matches `what` and ends with a tip. */
const invalid = (what) => (e) => {
  assert.ok(e instanceof InvalidArgumentError, `${e?.name}: ${e?.message}`);
  assert.match(e.message, what);
  assert.match(e.message, /Tip: \S/);
  return true;
};

/** The pid of the process that ran it, and the values of these variables there (null: unset). */
const envOf = remote(function envOf(names) {
  return { pid: process.pid, values: Object.fromEntries(names.map((n) => [n, process.env[n] ?? null])) };
});

/** Resolves `wait()` calls once `open()` is called: a latch held by an actor. */
const Latch = remote(class Latch {
  constructor() { this.opened = new Promise((r) => (this.open = r)); }
  async wait() { await this.opened; return "open"; }
  release() { this.open(); }
});
const Echo = remote(class Echo { echo(x) { return x; } env(names) { return { pid: process.pid, values: Object.fromEntries(names.map((n) => [n, process.env[n] ?? null])) }; } });

let cluster;
before(async () => { cluster = await startCluster({ numCpus: 2, runtimeEnv: { envVars: { JOB_VAR: "job", SHARED: "from-job" } } }); });
after(async () => { await cluster?.stop(); });

describe("maxPendingCalls", () => {
  clusterTest("a call past the limit throws PendingCallsLimitExceededError, and calls work again once replies came back", async () => {
    const latch = Latch.options({ maxConcurrency: 8 }).remote();
    const echo = Echo.options({ maxPendingCalls: 2 }).remote();
    const open = latch.wait.remote();
    // Both wait for `open` (their argument), so neither can be answered before the latch opens.
    const held = [echo.echo.remote(open), echo.echo.remote(open)];
    assert.throws(() => echo.echo.remote(3), (e) => {
      assert.ok(e instanceof PendingCallsLimitExceededError && isHeliosError(e), `${e?.name}: ${e?.message}`);
      assert.equal(e.name, "PendingCallsLimitExceededError");
      assert.match(e.message, /2 calls submitted and not answered.*maxPendingCalls: 2/);
      assert.match(e.message, /Tip: \S/);
      return true;
    });
    latch.release.remote();
    assert.deepEqual(await get(held), ["open", "open"]);
    assert.equal(await get(echo.echo.remote(4)), 4);
    await Promise.all([kill(latch), kill(echo)]);
  });

  clusterTest("a handle got by name keeps the limit; -1 and no option mean no limit", async () => {
    const latch = Latch.options({ maxConcurrency: 8 }).remote();
    await get(Echo.options({ name: "limited", maxPendingCalls: 1 }).remote().echo.remote(0));   // created
    const byName = await getActor("limited");
    const open = latch.wait.remote();
    const first = byName.echo.remote(open);
    assert.throws(() => byName.echo.remote(1), PendingCallsLimitExceededError);
    const free = [Echo.options({ maxPendingCalls: -1 }).remote(), Echo.remote()];
    const many = free.flatMap((a) => Array.from({ length: 20 }, () => a.echo.remote(open)));
    latch.release.remote();
    assert.equal(await get(first), "open");
    assert.equal((await get(many)).length, 40);
    await Promise.all([latch, byName, ...free].map((a) => kill(a)));
  });
});

describe("runtimeEnv.envVars", () => {
  const names = ["JOB_VAR", "SHARED", "TASK_VAR"];

  clusterTest("the job's variables are set in its workers; a task's own are added to them, and win over the job's", async () => {
    const plain = await get(envOf.remote(names));
    assert.deepEqual(plain.values, { JOB_VAR: "job", SHARED: "from-job", TASK_VAR: null });
    const own = await get(envOf.options({ runtimeEnv: { envVars: { TASK_VAR: "a", SHARED: "from-task" } } }).remote(names));
    assert.deepEqual(own.values, { JOB_VAR: "job", SHARED: "from-task", TASK_VAR: "a" });
  });

  clusterTest("a task never runs in a worker started with other variables", async () => {
    const a = envOf.options({ runtimeEnv: { envVars: { TASK_VAR: "a" } } });
    const b = envOf.options({ runtimeEnv: { envVars: { TASK_VAR: "b" } } });
    const runs = await get(Array.from({ length: 12 }, (_, i) => [a, b, envOf][i % 3].remote(names)));
    const pids = { a: new Set(), b: new Set(), none: new Set() };
    runs.forEach((r, i) => {
      const want = ["a", "b", null][i % 3];
      assert.equal(r.values.TASK_VAR, want, `run ${i}`);
      pids[want ?? "none"].add(r.pid);
    });
    for (const [x, y] of [["a", "b"], ["a", "none"], ["b", "none"]]) {
      for (const pid of pids[x]) assert.ok(!pids[y].has(pid), `pid ${pid} ran tasks with ${x} and with ${y}`);
    }
  });

  clusterTest("an actor's variables are set in its worker process, from its constructor on", async () => {
    const Probe = remote(class Probe { constructor() { this.seen = process.env.ACTOR_VAR; } seenAtStart() { return this.seen; } });
    const probe = Probe.options({ runtimeEnv: { envVars: { ACTOR_VAR: "actor" } } }).remote();
    assert.equal(await get(probe.seenAtStart.remote()), "actor");
    const echo = Echo.options({ runtimeEnv: { envVars: { TASK_VAR: "for-actor" } } }).remote();
    assert.deepEqual((await get(echo.env.remote(names))).values, { JOB_VAR: "job", SHARED: "from-job", TASK_VAR: "for-actor" });
    const plain = Echo.remote();
    assert.equal((await get(plain.env.remote(names))).values.TASK_VAR, null);
    await Promise.all([probe, echo, plain].map((a) => kill(a)));
  });

  clusterTest("names Helios or node read at a worker's start, odd names, non-string values and oversized sets are refused at options()", () => {
    const opts = (envVars) => ({ runtimeEnv: { envVars } });
    for (const make of [(o) => envOf.options(o), (o) => Echo.options(o)]) {
      assert.throws(() => make(opts({ HELIOS_TOKEN: "x" })), invalid(/may not set HELIOS_TOKEN: Helios's own settings/));
      assert.throws(() => make(opts({ NODE_OPTIONS: "--inspect" })), invalid(/may not set NODE_OPTIONS: node's flags.*HELIOS_WORKER_NODE_FLAGS/));
      assert.throws(() => make(opts({ "1ST": "x" })), invalid(/runtimeEnv.envVars name must be letters, digits and _/));
      assert.throws(() => make(opts({ "A-B": "x" })), invalid(/runtimeEnv.envVars name/));
      assert.throws(() => make(opts({ N: 1 })), invalid(/runtimeEnv.envVars.N must be a string/));
      assert.throws(() => make(opts({ BIG: "x".repeat(32 * 1024 + 1) })), invalid(/at most 32768 characters/));
      assert.throws(() => make(opts(Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`V${i}`, ""])))), invalid(/at most 256 variables/));
      assert.throws(() => make(opts(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`V${i}`, "x".repeat(30_000)])))), invalid(/in all/));
      assert.throws(() => make(opts(["A=1"])), invalid(/runtimeEnv.envVars must be an object/));
      assert.throws(() => make({ runtimeEnv: { workingDir: "." } }), invalid(/runtimeEnv.workingDir is the job's.*init\(\{ runtimeEnv: \{ workingDir \} \}\)/));
      assert.throws(() => make({ runtimeEnv: { excludes: ["x"] } }), invalid(/runtimeEnv.excludes is the job's/));
      assert.throws(() => make({ runtimeEnv: { env_vars: {} } }), invalid(/unknown option 'env_vars'/));
    }
    assert.equal(typeof envOf.options(opts({ OK_1: "", _x: "y" })).remote, "function");
  });
});

describe("init()", () => {
  clusterTest("options for the cluster it would start are refused when it joins one (address or HELIOS_ADDRESS)", async () => {
    // This process is initialized already: ask a fresh one.
    const script = `import { init } from "helios";
      try { await init(process.argv[1] === "env" ? { numCpus: 2, spillDir: "/tmp" } : { address: "127.0.0.1:1", objectStoreMemory: 1 }); }
      catch (e) { console.log(e.name + ": " + e.message); }`;
    const run = (arg, env) => new Promise((resolve) => execFile(process.execPath, ["--input-type=module", "-e", script, arg],
      { env: { ...process.env, ...env }, timeout: 20_000 }, (_e, stdout) => resolve(stdout)));
    assert.match(await run("address", {}), /InvalidArgumentError: init\(\): objectStoreMemory describes the cluster init\(\) starts.*address is set.*--object-store-memory/);
    assert.match(await run("env", { HELIOS_ADDRESS: "127.0.0.1:1" }), /InvalidArgumentError: init\(\): numCpus, spillDir describe .*HELIOS_ADDRESS is set.*--num-cpus … --spill-dir …/);
  });

  clusterTest("a job's runtimeEnv is checked like a task's, with workingDir and excludes its own", () => {
    assert.throws(() => checkInitOptions({ runtimeEnv: { envVars: { HELIOS_HOME: "/x" } } }), invalid(/init\(\): runtimeEnv.envVars may not set HELIOS_HOME/));
    assert.throws(() => checkInitOptions({ runtimeEnv: { excludes: "node_modules" } }), invalid(/runtimeEnv.excludes must be a list/));
    assert.throws(() => checkInitOptions({ runtimeEnv: { workdir: "." } }), invalid(/unknown option 'workdir'/));
    checkInitOptions({ runtimeEnv: { workingDir: ".", excludes: ["x"], envVars: { A: "1" } } });
  });
});
