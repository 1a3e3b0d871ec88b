// Bounds and messages: options out of range fail where they are given, with a typed error
// that says what to do; a missing actor method, an uncaught exception in a task's callback and
// a failed init() say what happened.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { remote, get, init, getActor, isInitialized, InvalidArgumentError, ActorMethodNotFoundError, ActorDiedError,
  WorkerCrashedError, isHeliosError } from "helios";
import { makeActorHandle, actorRecord } from "../dist/src/core/actor-handle.js";
import { runtime } from "../dist/src/api.js";
import { startCluster, waitFor } from "./helpers.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** An InvalidArgumentError (also a TypeError) whose message matches `what` and ends with a tip. */
const invalid = (what) => (e) => {
  assert.ok(e instanceof InvalidArgumentError, `${e?.name}: ${e?.message}`);
  assert.ok(e instanceof TypeError && isHeliosError(e));
  assert.match(e.message, what);
  assert.match(e.message, /Tip: \S/);
  return true;
};

const f = remote(function f(x) { return x; });
const Counter = remote(class Counter { n = 0; incr(k = 1) { return (this.n += k); } read() { return this.n; } });

describe("options out of range are refused at options()", () => {
  test("numReturns above 10,000 (1e7, 2^31) or not a whole number ≥ 1 is refused with what to do instead", () => {
    for (const n of [1e7, 2 ** 31, 10_001, 0, -1, 1.5, NaN, Infinity, "2"]) {
      assert.throws(() => f.options({ numReturns: n }), invalid(/numReturns must be an integer from 1 to 10,000/));
    }
    assert.equal(typeof f.options({ numReturns: 10_000 }).remote, "function");
  });

  test("counts of retries, restarts and concurrency must be whole numbers in range", () => {
    assert.throws(() => f.options({ maxRetries: -2 }), invalid(/maxRetries must be an integer ≥ -1/));
    assert.throws(() => f.options({ maxRetries: 0.5 }), invalid(/maxRetries/));
    assert.throws(() => Counter.options({ maxRestarts: "3" }), invalid(/maxRestarts must be an integer ≥ -1, got "3"/));
    assert.throws(() => Counter.options({ maxTaskRetries: NaN }), invalid(/maxTaskRetries/));
    assert.throws(() => Counter.options({ maxConcurrency: 0 }), invalid(/maxConcurrency must be an integer ≥ 1/));
    assert.throws(() => Counter.options({ maxPendingCalls: 0 }), invalid(/maxPendingCalls must be -1 \(no limit\) or an integer ≥ 1/));
  });

  test("resource amounts must be finite numbers ≥ 0", () => {
    assert.throws(() => f.options({ numCpus: -1 }), invalid(/numCpus must be a finite number ≥ 0, got -1/));
    assert.throws(() => f.options({ numCpus: NaN }), invalid(/numCpus/));
    assert.throws(() => f.options({ numGpus: Infinity }), invalid(/numGpus/));
    assert.throws(() => Counter.options({ memory: "1GB" }), invalid(/memory must be a finite number ≥ 0, got "1GB"/));
    assert.throws(() => f.options({ resources: { widget: -3 } }), invalid(/resources: widget must be a finite number ≥ 0/));
  });

  test("an actor named '' (or with an empty namespace, or a 300-character name) is refused", () => {
    assert.throws(() => Counter.options({ name: "" }), invalid(/name must be a non-empty string/));
    assert.throws(() => Counter.options({ namespace: "" }), invalid(/namespace must be a non-empty string/));
    assert.throws(() => Counter.options({ name: "x".repeat(300) }), invalid(/at most 256 characters/));
    assert.throws(() => Counter.options({ name: 7 }), invalid(/name must be a string, got 7/));
    assert.throws(() => Counter.options({ getIfExists: true }), invalid(/getIfExists needs a name/));
    assert.equal(typeof Counter.options({ name: "n" }).options({ getIfExists: true }).remote, "function");
  });

  test("getActor('') is refused before it asks the head", async () => {
    await assert.rejects(getActor(""), invalid(/getActor\(\): name must be a non-empty string/));
    await assert.rejects(getActor("c", { namespace: "" }), invalid(/getActor\(\): namespace must be a non-empty string/));
  });
});

describe("init() checks its options before it starts anything", () => {
  test("init({ token: \"\" }) fails with InvalidArgumentError, not an exited daemon", async () => {
    await assert.rejects(init({ token: "" }), invalid(/init\(\): token must be a non-empty string/));
    await assert.rejects(init({ token: 42 }), invalid(/token must be a string, got 42/));
    await assert.rejects(init({ token: "has space" }), invalid(/printable ASCII without spaces/));
    await assert.rejects(init({ numCpus: -2 }), invalid(/numCpus must be a finite number ≥ 0/));
    await assert.rejects(init({ numCPUs: 2 }), invalid(/unknown option 'numCPUs'/));
    await assert.rejects(init({ prestartWorkers: 1.5 }), invalid(/prestartWorkers/));
    assert.equal(isInitialized(), false);
  });

  test("an init() whose head fails to start removes its session directory and leaves no process", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "helios-bounds-"));
    try {
      const script = `import { init } from "helios";
        await init({ numCpus: 1 }).then(() => console.log("STARTED"), (e) => console.log("FAILED", e.message));`;
      // A storage directory that cannot be made (a bad HELIOS_* value would be refused by init() before anything starts).
      const out = await driver(script, { ...process.env, TMPDIR: tmp, HELIOS_HEAD_STORAGE: "/dev/null/storage" });
      assert.match(out, /FAILED the head exited with code 1/);
      // Every process of that cluster (agent, its first worker) had TMPDIR=tmp in its environment.
      await waitFor(() => !processesWithEnv(`TMPDIR=${tmp}`).length, 5000, "the cluster's processes to exit");
      // What stays is this user's socket directory (src/rpc/local-socket.ts), emptied as servers closed.
      const sockets = `helios-${process.getuid()}`;
      assert.deepEqual(fs.readdirSync(tmp).filter((f) => f !== sockets), [], "the session directory is removed");
      if (fs.existsSync(path.join(tmp, sockets))) assert.deepEqual(fs.readdirSync(path.join(tmp, sockets)), []);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("a node declared with 100,000 CPUs runs work with no more warm workers than the machine has cores", async () => {
    const script = `import { init, get, remote, shutdown } from "helios";
      import { runtime } from "./dist/src/api.js";
      await init({ numCpus: 100000 });
      console.log("RESULT", await get(remote((x) => x + 1).remote(1)));
      console.log("WORKERS", (await runtime().core.agent.call("info")).workers.length);
      await shutdown();`;
    const out = await driver(script, process.env);
    assert.match(out, /RESULT 2/);
    assert.ok(Number(/WORKERS (\d+)/.exec(out)?.[1]) <= os.cpus().length, out);
  });
});

/** Run a driver script (ES module text) in a process of its own; resolves with its output. */
function driver(script, env) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    c.stdout.on("data", (d) => { text += d; });
    c.stderr.on("data", (d) => { text += d; });
    c.on("exit", () => resolve(text));
  });
}

function processesWithEnv(entry) {
  const found = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try { if (fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(entry)) found.push(pid); } catch { /* gone, or not ours */ }
  }
  return found;
}

describe("in a cluster", () => {
  let cluster;
  before(async () => { cluster = await startCluster(); });
  after(() => cluster.stop());

  test("calling a method the actor does not have throws ActorMethodNotFoundError naming the class and its methods", async () => {
    const c = Counter.remote();
    assert.throws(() => c.nosuch.remote(1), (e) => e instanceof ActorMethodNotFoundError &&
      /actor class Counter has no method 'nosuch' \(its methods: incr, read\)/.test(e.message) && /Tip: /.test(e.message));
    assert.throws(() => c.nosuch.options({ numReturns: 2 }).remote(), ActorMethodNotFoundError);
    assert.equal(c.then, undefined, "a handle is not a promise");
    assert.equal(await Promise.resolve(c), c);
    const named = Counter.options({ name: "bounds-counter" }).remote();
    assert.equal(await get(named.incr.remote(2)), 2);
    const found = await getActor("bounds-counter");
    assert.throws(() => found.incr2.remote(), (e) => e instanceof ActorMethodNotFoundError && /incr2/.test(e.message));
    assert.equal(await get(found.read.remote()), 2);
  });

  test("a call that reaches an actor without the method fails with ActorMethodNotFoundError from the worker", async () => {
    const c = Counter.remote();
    const stale = makeActorHandle({ ...actorRecord(c), methods: ["incr", "read", "reset"] }, runtime());
    await assert.rejects(get(stale.reset.remote()), (e) => e instanceof ActorMethodNotFoundError &&
      /actor Counter has no method 'reset' \(its methods: incr, read\)/.test(e.message) && /Tip: /.test(e.message));
    assert.equal(await get(c.incr.remote()), 1, "the actor lives on");
  });

  test("an actor method's numReturns is bounded too", () => {
    const c = Counter.remote();
    assert.throws(() => c.incr.options({ numReturns: 1e7 }), invalid(/method options\(\): numReturns must be an integer from 1 to 10,000/));
    assert.throws(() => c.incr.options({ numReturn: 2 }), invalid(/unknown option 'numReturn'/));
  });

  test("an exception thrown in a task's timer fails it with WorkerCrashedError that carries the exception's name and message", async () => {
    const late = remote(function late() { return new Promise(() => setTimeout(() => { throw new RangeError("boom at tick"); }, 0)); });
    const err = await get(late.options({ maxRetries: 0 }).remote()).catch((e) => e);
    assert.ok(err instanceof WorkerCrashedError, `${err?.name}: ${err?.message}`);
    assert.match(err.message, /task late died of an uncaught RangeError: boom at tick/);
    assert.match(err.message, /Remote stack:\nRangeError: boom at tick\n\s+at /);
    assert.match(err.message, /Tip: catch errors inside callbacks/);
    assert.equal(err.cause?.name, "RangeError");
    assert.equal(err.cause?.message, "boom at tick");
    // A crash like any other: retried per maxRetries, and the count is in the message.
    await assert.rejects(get(late.options({ maxRetries: 1 }).remote()), (e) =>
      e instanceof WorkerCrashedError && /uncaught RangeError: boom at tick/.test(e.message) && /after 2 attempts/.test(e.message));
  });

  test("a driver joins with the token from HELIOS_TOKEN_FILE, and a token file others can read is refused", async () => {
    const { token, headAddress } = cluster.rt.core.config;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-bounds-token-"));
    try {
      const file = path.join(dir, "token");
      fs.writeFileSync(file, token + "\n", { mode: 0o600 });
      const script = `import { init, remote, get, shutdown } from "helios";
        try { await init(); console.log("RESULT", await get(remote((x) => x * 2).remote(21))); await shutdown(); }
        catch (e) { console.log("FAILED", e.name, e.message); }`;
      const env = { ...process.env, HELIOS_ADDRESS: headAddress, HELIOS_TOKEN_FILE: file };
      delete env.HELIOS_TOKEN;
      assert.match(await driver(script, env), /RESULT 42/);
      fs.chmodSync(file, 0o640);
      const refused = await driver(script, env);
      assert.match(refused, /FAILED InvalidArgumentError init\(\) \(HELIOS_TOKEN_FILE\): the token file .* can be read or changed by other users \(mode 640\)/);
      assert.match(refused, /Tip: chmod 600/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an exception thrown in an actor's callback ends the actor, and its callers learn what was thrown", async () => {
    const Ticker = remote(class Ticker { arm() { setTimeout(() => { throw new TypeError("tick failed"); }, 0); return "armed"; } ping() { return new Promise(() => {}); } });
    const t = Ticker.options({ maxConcurrency: 2 }).remote();
    const pending = get(t.ping.remote());   // in flight when the worker dies
    assert.equal(await get(t.arm.remote()), "armed");
    await assert.rejects(pending, (e) => e instanceof ActorDiedError && /uncaught TypeError: tick failed/.test(e.message));
  });
});
