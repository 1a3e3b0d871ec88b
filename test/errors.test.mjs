import { before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, put, TaskError, SerializationError, IllegalStateError } from "helios";
import { startCluster, clusterTest } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

clusterTest("a user exception arrives as TaskError with name, message, remote stack and cause", async () => {
  const boom = remote(function boom(x) { throw new TypeError(`bad input ${x}`); });
  const err = await get(boom.remote(7)).catch((e) => e);
  assert.ok(err instanceof TaskError);
  assert.equal(err.name, "TaskError");
  assert.equal(err.originalName, "TypeError");
  assert.match(err.message, /bad input 7/);
  assert.equal(err.taskName, "boom");
  assert.ok(err.pid > 0 && err.pid !== process.pid);
  assert.match(err.remoteStack, /TypeError: bad input 7\n\s+at boom/);
  assert.ok(err.cause instanceof Error);
  assert.equal(err.cause.name, "TypeError");
  assert.equal(err.cause.message, "bad input 7");
});

clusterTest("a rejected promise in an async task arrives as TaskError", async () => {
  const rejects = remote(async () => { throw new Error("async failure"); });
  await assert.rejects(get(rejects.remote()), (e) => e instanceof TaskError && e.cause.message === "async failure");
});

clusterTest("a task that depends on a failed task fails with the same error", async () => {
  const boom = remote(() => { throw new Error("upstream"); });
  const inc = remote((x) => x + 1);
  await assert.rejects(get(inc.remote(boom.remote())), (e) => e instanceof TaskError && /upstream/.test(e.message));
});

clusterTest("calling a remote function directly throws and says to use .remote()", () => {
  const square = remote(function square(x) { return x * x; });
  assert.throws(() => square(3), (e) => e instanceof TypeError && /square\.remote\(/.test(e.message));
});

clusterTest("an argument that cannot be serialized raises SerializationError at the call site", () => {
  const f = remote(function f(x) { return x; });
  assert.throws(() => f.remote({ a: [1, { cb: () => 1 }] }), (e) =>
    e instanceof SerializationError && /argument 0\.a\[1\]\.cb/.test(e.message) && /function/.test(e.message));
  class User { constructor() { this.name = "x"; } }
  assert.throws(() => f.remote(1, new User()), (e) =>
    e instanceof SerializationError && /argument 1/.test(e.message) && /class User/.test(e.message));
  assert.throws(() => f.remote(Symbol("s")), SerializationError);
});

clusterTest("a return value that cannot be serialized is reported, naming the task", async () => {
  const bad = remote(function bad() { return { f: () => 1 }; });
  await assert.rejects(get(bad.remote()), (e) => e.name === "SerializationError" && /bad/.test(e.message));
});

clusterTest("init twice is refused with a clear error", async () => {
  const { init } = await import("helios");
  await assert.rejects(init(), IllegalStateError);
});
