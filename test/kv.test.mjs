// The head's key-value store: values of any serializable type by namespace and key, shared by
// every process of the cluster; bad input gets a typed error and the head keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, kv } from "helios";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

test("put, get, exists, keys and delete, with namespaces and overwrite", async () => {
  assert.equal(await kv.put("model/path", "/data/m1"), true);
  assert.equal(await kv.put("model/path", "/data/m2"), false, "an existing key is overwritten, and put says it was not new");
  assert.equal(await kv.get("model/path"), "/data/m2");
  assert.equal(await kv.put("model/path", "/data/m3", { overwrite: false }), false);
  assert.equal(await kv.get("model/path"), "/data/m2", "overwrite: false keeps the value");
  await kv.put("model/epoch", 7n);
  await kv.put("other", new Map([[1, new Float32Array([1.5])]]));
  assert.deepEqual(await kv.keys("model/"), ["model/epoch", "model/path"]);
  assert.equal(await kv.get("model/epoch"), 7n);
  const m = await kv.get("other");
  assert.ok(m.get(1) instanceof Float32Array && m.get(1)[0] === 1.5);
  assert.equal(await kv.exists("missing"), false);
  assert.equal(await kv.get("missing"), undefined);
  await kv.put("model/path", "elsewhere", { namespace: "team-b" });
  assert.equal(await kv.get("model/path", { namespace: "team-b" }), "elsewhere");
  assert.equal(await kv.get("model/path"), "/data/m2", "namespaces are apart");
  assert.equal(await kv.delete("model/", { prefix: true }), 2);
  assert.deepEqual(await kv.keys(), ["other"]);
  assert.equal(await kv.delete("other"), 1);
  assert.equal(await kv.delete("other"), 0);
});

test("tasks and actors see the same table as the driver", async () => {
  await kv.put("flag", { go: true });
  const read = remote(async () => { const { kv } = await import("helios"); const f = await kv.get("flag"); await kv.put("seen", f.go); return f; });
  assert.deepEqual(await get(read.remote()), { go: true });
  assert.equal(await kv.get("seen"), true);
});

test("bad keys and values are refused with a clear error; the head keeps serving", async () => {
  await assert.rejects(kv.put(42, "x"), (e) => e instanceof TypeError && /key must be a string/.test(e.message));
  await assert.rejects(kv.get("a\0b"), TypeError);
  await assert.rejects(kv.put("big", new Uint8Array(2 * 1024 * 1024)), (e) => e instanceof RangeError && /1 MiB/.test(e.message) && /put\(\)/.test(e.message));
  await assert.rejects(kv.put("fn", () => 1), (e) => e.name === "SerializationError");
  // Straight to the head, past the SDK's checks.
  const head = cluster.rt.core.head;
  await assert.rejects(head.call("kvPut", { namespace: "n", key: "k", value: "not bytes" }), /bytes/);
  await assert.rejects(head.call("kvGet", { namespace: 3, key: "k" }), /namespace/);
  await kv.put("still", "serving");
  assert.equal(await kv.get("still"), "serving");
});
