// The head survives a restart: SIGKILLed and started again on the same storage and port, it
// loses nothing; while it is down, running tasks and direct actor calls carry on. The cluster
// tests run real processes, each host in its own network namespace (test/cluster.mjs); the
// storage (head/store.ts), the head clients' wait and the CLI are tested on their own after them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer as netServer } from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { startNetworkCluster } from "./cluster.mjs";
import { alive, waitFor } from "./helpers.mjs";
import { HeadStore } from "../dist/head/store.js";
import { RpcClient } from "../dist/src/rpc/grpc.js";
import { HeadUnavailableError } from "../dist/src/errors.js";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const fixture = path.join(root, "test/fixtures/head-restart-driver.mjs");
const HEALTH_MS = 1500;
const base = fs.mkdtempSync(path.join(os.tmpdir(), "helios-head-restart-test-"));

let c;
before(async () => { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: HEALTH_MS }); });
after(async () => {
  await c?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

/** `helios status` as a user runs it, from the head's host. */
async function status() {
  const r = await c.net.exec("head", process.execPath, [path.join(root, "dist/src/cli.js"), "status", "--address", c.headAddress, "--token", c.token]);
  return r.stdout + r.stderr;
}

/** Run the fixture in `mode` on the driver host; returns { next(tag), send(cue), done }. */
function driver(mode, args = {}) {
  const proc = c.net.spawn("driver", process.execPath, [fixture, mode, JSON.stringify(args)],
    { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  let output = "";
  return {
    proc,
    async next(tag) {
      for (;;) {
        const { value, done } = await Promise.race([lines.next(), exited.then(() => ({ done: true }))]);
        if (done) throw new Error(`the driver exited before printing ${tag}:\n${output}`);
        output += value + "\n";
        if (value.startsWith(tag + " ")) return JSON.parse(value.slice(tag.length + 1));
      }
    },
    send(cue) { proc.stdin.write(cue + "\n"); },
    exited,
  };
}

const nodeIds = () => [c.nodes.a.nodeId, c.nodes.b.nodeId].sort();

test("a SIGKILLed head comes back on the same storage: tasks and actor calls carry on meanwhile, nothing is lost", async () => {
  const agentPids = [c.nodes.a.pid, c.nodes.b.pid];
  const d = driver("survive", { ms: 3000 });
  const { keeperPid } = await d.next("RUNNING");

  await c.killHead();
  d.send("HEAD_DOWN");
  // Read while the head is down: the test starts it again only after this line.
  const down = await d.next("DOWN");
  assert.ok(nodeIds().includes(down.task), `the in-flight task finished: ${JSON.stringify(down)}`);
  assert.equal(down.call, 2, "a call on the existing handle went to the actor directly");
  assert.equal(down.more.length, 2, "new tasks leased from an agent without the head");

  const head = await c.startHead();
  assert.equal(head.address, c.headAddress, "same address");
  assert.ok(head.loaded.nodes === 2 && head.loaded.actors >= 1 && head.loaded.jobs >= 1, JSON.stringify(head.loaded));
  d.send("HEAD_UP");
  const r = await d.next("RESULT");
  assert.deepEqual(r.items, ["before", "while down"], "getActor by name: the same actor, with its state");
  assert.equal(r.oldHandle, 3);
  assert.ok(nodeIds().includes(r.fresh) && nodeIds().includes(r.actor), "new tasks and actors run");
  assert.equal(await d.exited, 0);

  // Another driver, after the restart, finds the detached actor by name: the same process.
  const other = driver("lookup");
  const found = await other.next("RESULT");
  assert.deepEqual(found.items, ["before", "while down", "after"]);
  assert.equal(found.pid, keeperPid);
  assert.deepEqual(found.kv, { config: { workers: 4, tags: ["a", "b"] }, keys: ["after", "config"] }, "the KV table came back with the head");
  assert.equal(await other.exited, 0);

  // The same agents (same processes, same node ids), ALIVE, well past a health-check window.
  await new Promise((r) => setTimeout(r, HEALTH_MS * 4));
  const s = await status();
  assert.match(s, /2 node\(s\), 2 alive/, s);
  for (const id of nodeIds()) assert.match(s, new RegExp(`${id}.*ALIVE`));
  assert.ok(agentPids.every(alive), "the agents were never restarted");
});

test("an actor whose worker dies while the head is down is restarted once the head is back", async () => {
  const d = driver("lost", { name: "lost-worker" });
  const { keeperPid } = await d.next("RUNNING");
  await c.killHead();
  process.kill(keeperPid, "SIGKILL");
  d.send("HEAD_DOWN");   // its next call waits for the head, which restarts the actor
  await c.startHead();
  const r = await d.next("RESULT");
  assert.notEqual(r.pid, keeperPid);
  assert.equal(r.call, 1, "a restarted actor starts from its constructor");
  assert.deepEqual(r.items, ["after"]);
  assert.equal(await d.exited, 0);
});

test("an actor under construction when the head dies is constructed once, and answers", async () => {
  const file = path.join(os.tmpdir(), `helios-constructed-${process.pid}`);
  fs.rmSync(file, { force: true });
  try {
    const d = driver("creating", { name: "slow", ms: 3000, file });
    await d.next("CREATING");
    await waitFor(() => fs.existsSync(file), 20_000, "the constructor to start");
    await c.killHead();
    await c.startHead();
    const r = await d.next("RESULT");
    assert.deepEqual(fs.readFileSync(file, "utf8").trim().split("\n").map(Number), [r.pid], "one construction, in the worker that answers");
    assert.equal(await d.exited, 0);
  } finally { fs.rmSync(file, { force: true }); }
});

// ---- the storage: an append-only log that survives a crash in the middle of a write --------

let n = 0;
const freshDir = () => path.join(base, `store-${n++}`);
const logOf = (dir) => path.join(dir, "tables.log");

function fill(dir) {
  const s = HeadStore.open(dir);
  s.put("nodes", "n1", { nodeId: "n1", state: "ALIVE", resources: { CPU: 2 } });
  s.put("jobs", "j1", { jobId: "j1", execArgv: [] });
  s.put("actors", "a1", { actorId: "a1", state: "PENDING", req: { spec: { args: [{ v: new Uint8Array([1, 2, 3]) }] } } });
  s.put("actors", "a1", { actorId: "a1", state: "ALIVE", req: { spec: { args: [{ v: new Uint8Array([1, 2, 3]) }] } } });
  s.put("actors", "a2", { actorId: "a2", state: "ALIVE" });
  s.delete("jobs", "j1");
  s.close();
}

test("what was written is read back by the next open, last write per key winning", () => {
  const dir = freshDir();
  fill(dir);
  const s = HeadStore.open(dir);
  try {
    assert.deepEqual([...s.table("nodes").keys()], ["n1"]);
    assert.equal(s.table("jobs").size, 0, "a deleted key stays deleted");
    const a1 = s.table("actors").get("a1");
    assert.equal(a1.state, "ALIVE");
    assert.deepEqual([...a1.req.spec.args[0].v], [1, 2, 3]);
    assert.deepEqual([...s.table("actors").keys()], ["a1", "a2"], "rows keep their creation order");
  } finally { s.close(); }
});

test("a torn last record is dropped, the rest loads, and appends carry on after it", () => {
  const dir = freshDir();
  fill(dir);
  const size = fs.statSync(logOf(dir)).size;
  const s0 = HeadStore.open(dir);
  s0.put("actors", "a3", { actorId: "a3", state: "ALIVE", note: "x".repeat(200) });
  s0.close();
  const full = fs.statSync(logOf(dir)).size;
  fs.truncateSync(logOf(dir), full - 37);   // the head died in the middle of writing a3
  const warnings = [];
  const s = HeadStore.open(dir, { warn: (m) => warnings.push(m) });
  try {
    assert.deepEqual([...s.table("actors").keys()], ["a1", "a2"]);
    assert.equal(s.table("nodes").get("n1").state, "ALIVE");
    assert.equal(fs.statSync(logOf(dir)).size, size, "the torn bytes are cut off the file");
    assert.match(warnings.join("\n"), /dropped \d+ byte\(s\) after offset \d+/);
    s.put("actors", "a4", { actorId: "a4", state: "ALIVE" });
  } finally { s.close(); }
  const again = HeadStore.open(dir);
  try { assert.deepEqual([...again.table("actors").keys()], ["a1", "a2", "a4"]); } finally { again.close(); }
});

test("a last record that fails its checksum is dropped too (garbage or zeros after a crash)", () => {
  const dir = freshDir();
  fill(dir);
  const size = fs.statSync(logOf(dir)).size;
  fs.appendFileSync(logOf(dir), Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, ...Array(40).fill(0)]));   // a whole frame, wrong crc
  const s = HeadStore.open(dir, { warn: () => {} });
  try {
    assert.deepEqual([...s.table("actors").keys()], ["a1", "a2"]);
    assert.equal(fs.statSync(logOf(dir)).size, size);
  } finally { s.close(); }
});

test("the log is compacted once it is mostly overwritten records, and loads the same", () => {
  const dir = freshDir();
  const s = HeadStore.open(dir, { compactSlackBytes: 4096 });
  for (let i = 0; i < 2000; i++) s.put("nodes", `n${i % 10}`, { nodeId: `n${i % 10}`, beat: i, pad: "p".repeat(50) });
  const size = fs.statSync(logOf(dir)).size;
  assert.ok(size < 3 * 10 * 100 + 4096, `the log holds ${size} bytes for 10 live rows`);
  s.close();
  const t = HeadStore.open(dir);
  try {
    assert.equal(t.table("nodes").size, 10);
    assert.equal(t.table("nodes").get("n9").beat, 1999);
    assert.ok(!fs.existsSync(logOf(dir) + ".compact"));
  } finally { t.close(); }
});

test("fsync=always writes every record through; close releases the lock", () => {
  const dir = freshDir();
  const s = HeadStore.open(dir, { fsync: "always" });
  s.put("jobs", "j", { jobId: "j" });
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "LOCK"), "utf8")).pid, process.pid);
  s.close();
  assert.ok(!fs.existsSync(path.join(dir, "LOCK")));
  assert.throws(() => s.put("jobs", "k", {}), /closed/);
});

/** Start a head process on `storage` (outside the test network); resolves { proc, info } once it serves, or { code, stderr } if it exits. */
function bareHead(storage, port = 0) {
  const proc = spawn(process.execPath, [path.join(root, "dist/head/main.js")], {
    env: { ...process.env, HELIOS_TOKEN: "t", HELIOS_HEAD_STORAGE: storage, HELIOS_PORT: String(port), HELIOS_PARENT: "" },
    stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
  return new Promise((resolve) => {
    createInterface({ input: proc.stdout }).once("line", (l) => resolve({ proc, info: JSON.parse(l) }));
    proc.once("exit", (code) => resolve({ proc, code, stderr }));
  });
}

test("a second head on a storage directory in use is refused, naming the pid; a killed head's lock is taken over", async () => {
  const dir = freshDir();
  const first = await bareHead(dir);
  assert.ok(first.info, "the first head starts");
  try {
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "LOCK"), "utf8")).pid, first.proc.pid);
    const second = await bareHead(dir);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`storage directory ${dir} is in use by another head \\(pid ${first.proc.pid}\\)`));
    assert.match(second.stderr, /Tip: /);
  } finally {
    first.proc.kill("SIGKILL");
    await once(first.proc, "exit");
  }
  const third = await bareHead(dir);   // the lock names a dead pid now
  assert.ok(third.info, `a head starts on the storage of a killed one: ${third.stderr}`);
  assert.equal(third.info.storage, dir);
  third.proc.kill("SIGTERM");
  await once(third.proc, "exit");
  assert.ok(!fs.existsSync(path.join(dir, "LOCK")), "a head that stops cleanly releases its lock");
});

// ---- head clients: a bounded wait for the head, then a typed error --------------------------

test("a head client waits for a head that comes back, and gives up with HeadUnavailableError after its bound", async () => {
  const port = await freePort();
  const slow = new RpcClient(`127.0.0.1:${port}`, "Head", "t", { reconnectMs: 800 });
  const t0 = Date.now();
  await assert.rejects(slow.call("listNodes"), (e) => e instanceof HeadUnavailableError && /unreachable for/.test(e.message) && e.cause?.code === 14);
  assert.ok(Date.now() - t0 >= 700, `gave up after ${Date.now() - t0} ms`);
  slow.close();

  let retrying;
  const retried = new Promise((r) => { retrying = r; });
  const patient = new RpcClient(`127.0.0.1:${port}`, "Head", "t", { reconnectMs: 20_000, onRetry: () => retrying() });
  const waiting = patient.call("listNodes");
  await retried;   // the call found no head and is retrying; then a head comes up on that port
  const { proc } = await bareHead(path.join(base, "reconnect"), port);
  try {
    assert.deepEqual(await waiting, []);
  } finally {
    patient.close();
    proc.kill("SIGTERM");
    await once(proc, "exit");
  }
});

function freePort() {
  return new Promise((resolve) => { const s = netServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); }); });
}

// ---- the operator's way: `helios start --head` again after the head died --------------------

const cli = path.join(root, "dist/src/cli.js");
/** A process that exists and is not a zombie. */
const running = (pid) => { try { return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; } };

test("helios start --head starts a killed head again on its address, token and storage; its agent rejoins", async () => {
  const home = path.join(base, "home");
  const env = { ...process.env, HELIOS_HOME: home };
  for (const k of ["HELIOS_ADDRESS", "HELIOS_TOKEN", "HELIOS_PARENT"]) delete env[k];
  const helios = (...args) => new Promise((resolve) => execFile(process.execPath, [cli, ...args], { env, timeout: 60_000 },
    (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr })));
  const daemons = () => JSON.parse(fs.readFileSync(path.join(home, "daemons.json"), "utf8"));
  const pids = new Set();
  try {
    const first = await helios("start", "--head", "--num-cpus", "1");
    assert.equal(first.code, 0, first.stderr);
    const storage = path.join(home, "head", "storage");
    assert.ok(first.stdout.includes(`keeps its tables in ${storage}`), first.stdout);
    const before = daemons();
    const [agent] = before.agents;
    pids.add(before.head.pid).add(agent.pid);

    process.kill(before.head.pid, "SIGKILL");
    await waitFor(() => !running(before.head.pid), 5000, "the head to die");
    const again = await helios("start", "--head");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`head again at ${before.head.address} .*on its storage ${storage}`));
    assert.match(again.stdout, /loaded 1 node\(s\)/);
    const after = daemons();
    pids.add(after.head.pid);
    assert.notEqual(after.head.pid, before.head.pid);
    assert.deepEqual(after.agents.map((a) => a.pid), [agent.pid], "the running agent was kept, not replaced");

    const status = await helios("status");
    assert.match(status.stdout, /1 node\(s\), 1 alive/, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`${agent.nodeId}.*ALIVE`));
    const busy = await helios("start", "--head");
    assert.notEqual(busy.code, 0, "a live head is not started twice");
    assert.match(busy.stderr, /already run on this machine/);
  } finally {
    await helios("stop");
    for (const pid of pids) if (running(pid)) process.kill(pid, "SIGKILL");
  }
});
