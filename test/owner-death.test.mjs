// Owner death for objects: a ref whose owner is gone raises OwnerDiedError from get() — on the
// same node, on another node, and when the owner's node is cut off — never a hang.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { get, OwnerDiedError, ObjectLostError } from "helios";
import { putNested, readNested } from "./fixtures/lifetime.mjs";
import { startCluster, alive, waitFor } from "./helpers.mjs";
import { startNetworkCluster } from "./cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

describe("on one node", () => {
  let cluster;
  before(async () => { cluster = await startCluster(); });
  after(() => cluster.stop());

  for (const [bytes, what] of [[16, "a small object"], [1 << 20, "a stored object"]]) {
    test(`${what} put by a task whose worker then dies: get() of the nested ref raises OwnerDiedError`, async () => {
      const v = await get(putNested.remote(bytes));
      process.kill(v.pid, "SIGKILL");
      await waitFor(() => !alive(v.pid), 5000, `worker ${v.pid} to exit`);
      await assert.rejects(get(v.inner[0], { timeout: 20_000 }), (e) => {
        assert.ok(e instanceof OwnerDiedError && e instanceof ObjectLostError, `${e.name}: ${e.message}`);
        assert.match(e.message, new RegExp(`the owner of p\\w+ \\(worker w\\w+ at [\\d.:]+ on node ${v.nodeId}\\)`));
        assert.match(e.message, /Tip: /);
        return true;
      });
      // A task holding the ref gets the same typed error.
      const r = await get(readNested.remote(v), { timeout: 20_000 });
      assert.equal(r.error, "OwnerDiedError", JSON.stringify(r));
    });
  }

  test("while the owner lives, the nested ref reads normally", async () => {
    const v = await get(putNested.remote(1 << 20));
    assert.equal((await get(v.inner[0])).length, 1 << 20);
    assert.equal((await get(readNested.remote(v))).len, 1 << 20);
  });
});

describe("across nodes", () => {
  let c;
  before(async () => { c = await startNetworkCluster({ agents: { a: {}, b: {} }, healthTimeoutMs: 1500 }); });
  after(() => c?.stop());

  /** Run the ownedObject scenario; `at(info)` runs once the driver holds the nested ref, before it reads it. */
  function ownedObject(args, at) {
    const proc = c.net.spawn("driver", process.execPath, [path.join(root, "test/fixtures/lifetime-driver.mjs"), "ownedObject", JSON.stringify(args)],
      { env: { ...process.env, HELIOS_ADDRESS: c.headAddress, HELIOS_TOKEN: c.token }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    proc.stderr.on("data", (d) => { out += d; });
    proc.stdout.on("data", async (d) => {
      out += d;
      const m = /^STEP HELD (.*)$/m.exec(String(d));
      if (m) { await at(JSON.parse(m[1])); proc.stdin.write("go\n"); }
    });
    return new Promise((resolve) => proc.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      resolve({ code, out, result: line && JSON.parse(line.slice(7)) });
    }));
  }

  test("when the owner's worker is killed, the driver and a task on another node get OwnerDiedError", async () => {
    const r = await ownedObject({ owner: c.nodes.b.nodeId, reader: c.nodes.a.nodeId, bytes: 1 << 20 }, async (held) => {
      assert.equal(held.nodeId, c.nodes.b.nodeId);
      process.kill(held.pid, "SIGKILL");
      await waitFor(() => !alive(held.pid), 5000, "the owner to exit");
    });
    assert.ok(r.result, r.out);
    assert.equal(r.result.driver.error, "OwnerDiedError", JSON.stringify(r.result));
    assert.equal(r.result.remote.error, "OwnerDiedError", JSON.stringify(r.result));
    assert.equal(r.result.remote.nodeId, c.nodes.a.nodeId);
  });

  test("when the owner's node is cut off, get() raises OwnerDiedError once the node is declared dead", async () => {
    const r = await ownedObject({ owner: c.nodes.b.nodeId, reader: c.nodes.a.nodeId, bytes: 16 }, async () => { await c.net.cut("b"); });
    await c.net.restore("b");
    assert.ok(r.result, r.out);
    assert.equal(r.result.driver.error, "OwnerDiedError", JSON.stringify(r.result));
    assert.match(r.result.driver.message, new RegExp(`died with its node \\(node ${c.nodes.b.nodeId} was declared dead\\)`));
    assert.equal(r.result.remote.error, "OwnerDiedError", JSON.stringify(r.result));
    assert.ok(r.result.ms < 20_000, `took ${r.result.ms} ms`);
  });
});
