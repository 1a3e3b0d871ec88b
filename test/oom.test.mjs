// Out-of-memory kills: a node whose workers pass its memory limit loses its newest task's
// worker; the task is retried like a crash and ends with OutOfMemoryError, while the agent and
// the other workers keep serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { remote, get, ActorDiedError, OutOfMemoryError } from "helios";
import { pickVictim, memoryConfigFromEnv, readMeminfo, rssOf } from "../dist/node-agent/memory-monitor.js";
import { startCluster, alive, waitFor, untilFile } from "./helpers.mjs";

const latchModule = new URL("./fixtures/latch.mjs", import.meta.url).href;

const LIMIT = 500 * 2 ** 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-oom-"));
let cluster;
before(async () => {
  // The agent reads its limit from the environment it inherits: a small node, its workers' RSS capped at 500 MiB.
  process.env.HELIOS_MEMORY_LIMIT_BYTES = String(LIMIT);
  try { cluster = await startCluster(); } finally { delete process.env.HELIOS_MEMORY_LIMIT_BYTES; }
});
after(async () => { await cluster.stop(); fs.rmSync(dir, { recursive: true, force: true }); });

/** Grows Buffers (pages touched) by 8 MiB every 10 ms up to 1.2 GiB, well past the node's limit (the sleeps pace the growth). */
const hog = remote(async function hog(counter) {
  const fs = await import("node:fs");
  fs.appendFileSync(counter, "x");
  const held = [];
  for (let i = 0; i < 150; i++) {
    held.push(Buffer.alloc(8 << 20, 1));
    await new Promise((r) => setTimeout(r, 10));
  }
  return `survived with ${held.length * 8} MiB`;
});

/** A well-behaved task: says it started, then waits (bounded) for the test to let it finish. */
const steady = remote(async function steady(started, release, latchModule) {
  const fs = await import("node:fs");
  const { untilFile } = await import(latchModule);
  fs.writeFileSync(started, String(process.pid));
  await untilFile(release, 30_000).catch(() => {});   // bounded: it goes on after 30 s in any case
  return { pid: process.pid, sum: Buffer.alloc(1 << 20, 2).reduce((s, b) => s + b, 0) };
});

const Hoarder = remote(class Hoarder {
  pid() { return process.pid; }
  async grow() {   // grows like hog: the sleeps pace it
    this.held = [];
    for (let i = 0; i < 150; i++) {
      this.held.push(Buffer.alloc(8 << 20, 1));
      await new Promise((r) => setTimeout(r, 10));
    }
    return "survived";
  }
});

const agentPid = () => globalThis[Symbol.for("helios.runtime")].cluster.pids.at(-1);

test("a task that allocates past the node's limit ends with OutOfMemoryError after its retries, while a concurrent task succeeds", async () => {
  const started = path.join(dir, "started"), release = path.join(dir, "release"), counter = path.join(dir, "hog-attempts");
  const calm = steady.remote(started, release, latchModule);
  await untilFile(started, 20_000, "the well-behaved task to start");   // older than the hog: not the victim
  const agentBefore = agentPid();

  await assert.rejects(get(hog.options({ maxRetries: 1 }).remote(counter), { timeout: 60_000 }), (e) => {
    assert.ok(e instanceof OutOfMemoryError, `${e.name}: ${e.message}`);
    assert.match(e.message, /task hog was killed by the memory monitor of node n\w+/);
    assert.match(e.message, /used \d+ MiB of its 500 MiB limit/);
    assert.match(e.message, /Tip: /);
    assert.match(e.message, /after 2 attempts/);
    return true;
  });
  assert.equal(fs.readFileSync(counter, "utf8"), "xx");   // retried once, like a crash

  fs.writeFileSync(release, "");
  const r = await get(calm, { timeout: 30_000 });
  assert.equal(r.sum, 2 * (1 << 20));
  assert.equal(String(r.pid), fs.readFileSync(started, "utf8"));   // ran to the end in its first worker
  assert.ok(alive(r.pid), "the well-behaved task's worker survives");
  assert.ok(alive(agentBefore), "the agent survives");

  // The node keeps serving: a fresh worker replaces the killed one.
  const add = remote((a, b) => a + b);
  assert.deepEqual(await get([add.remote(1, 2), add.remote(3, 4), add.remote(5, 6)], { timeout: 20_000 }), [3, 7, 11]);
  await waitFor(async () => (await cluster.agentInfo()).workers.some((w) => w.state === "idle"), 10_000, "an idle worker");
});

test("an actor that allocates past the limit dies: its call fails with ActorDiedError caused by OutOfMemoryError", async () => {
  const a = Hoarder.remote();
  const pid = await get(a.pid.remote(), { timeout: 20_000 });
  await assert.rejects(get(a.grow.remote(), { timeout: 60_000 }), (e) => {
    assert.ok(e instanceof ActorDiedError, `${e.name}: ${e.message}`);
    assert.ok(e.cause instanceof OutOfMemoryError, `cause: ${e.cause?.name}: ${e.cause?.message}`);
    assert.match(e.message, /killed by the memory monitor/);
    assert.match(e.cause.message, /used \d+ MiB of its 500 MiB limit/);
    return true;
  });
  await waitFor(() => !alive(pid), 5000, `the actor's worker ${pid} to be gone`);
  await assert.rejects(get(a.pid.remote(), { timeout: 20_000 }), (e) => e instanceof ActorDiedError && e.cause instanceof OutOfMemoryError);
  assert.ok(alive(agentPid()), "the agent survives");
});

test("the victim is the newest task, and actors only when no task is left", () => {
  assert.equal(pickVictim([
    { pid: 1, kind: "task", since: 100 }, { pid: 2, kind: "actor", since: 300 }, { pid: 3, kind: "task", since: 200 },
  ]).pid, 3);
  assert.equal(pickVictim([{ pid: 2, kind: "actor", since: 300 }, { pid: 4, kind: "actor", since: 400 }]).pid, 4);
  assert.equal(pickVictim([]), undefined);
});

test("memory settings from the environment are checked, with what to write instead", () => {
  assert.deepEqual(memoryConfigFromEnv({}), { threshold: 0.95, limitBytes: undefined, periodMs: 250 });
  assert.deepEqual(memoryConfigFromEnv({ HELIOS_MEMORY_THRESHOLD: "0.8", HELIOS_MEMORY_LIMIT_BYTES: "1000000", HELIOS_MEMORY_MONITOR_MS: "0" }),
    { threshold: 0.8, limitBytes: 1_000_000, periodMs: 0 });
  assert.throws(() => memoryConfigFromEnv({ HELIOS_MEMORY_THRESHOLD: "95" }), (e) => e instanceof TypeError && /HELIOS_MEMORY_THRESHOLD must be a fraction in \(0, 1\]/.test(e.message));
  assert.throws(() => memoryConfigFromEnv({ HELIOS_MEMORY_LIMIT_BYTES: "2GB" }), /HELIOS_MEMORY_LIMIT_BYTES must be a positive whole number of bytes/);
});

test("memory readings come from /proc", () => {
  const m = readMeminfo();
  assert.ok(m && m.total > 0 && m.available > 0 && m.available <= m.total, JSON.stringify(m));
  assert.ok(rssOf(process.pid) > 10 * 2 ** 20);
  assert.equal(rssOf(2 ** 22 + 12345), 0);   // no such process
});
