// Two core workers in one process, neither started: each reads refs and actor handles in
// values with its own codec, counts its own handles and owns its own objects. Nothing of one
// leaks into the other through process globals.
import test from "node:test";
import assert from "node:assert/strict";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { CoreWorker } from "../dist/src/core/core-worker.js";
import { ObjectRef } from "../dist/src/core/object-ref.js";
import { makeActorHandle } from "../dist/src/core/actor-handle.js";
import { concat } from "../dist/src/serialization.js";

function core(name, calls) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `helios-two-${name}-`));
  const c = new CoreWorker({ mode: "driver", workerId: `w${name}`, nodeId: `n${name}`, jobId: "j1", namespace: "default", token: "t".repeat(32),
    headAddress: "127.0.0.1:1", agentAddress: "127.0.0.1:1", storeDir: dir, host: "127.0.0.1" }, {}, { actorCalls: { callActor: (...a) => calls.push(a) } });
  c.address = `127.0.0.1:${name === "a" ? 7001 : 7002}`;
  return { c, close: () => { c.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

test("two core workers in one process keep their own objects, refs and handles", () => {
  const callsA = [];
  const callsB = [];
  const a = core("a", callsA);
  const b = core("b", callsB);
  try {
    const ref = a.c.put({ x: 1 });
    assert.equal(a.c.isOwned(ref.id), true);
    assert.equal(b.c.isOwned(ref.id), false, "the other owns nothing it did not make");
    const handle = makeActorHandle({ actorId: "a1", className: "Counter", methods: ["inc"] }, { callActor: (...x) => callsA.push(x) });
    const bytes = concat(a.c.serialize({ ref, handle }, "test value"));
    assert.equal(a.c.objects.get(ref.id).escaped, true, "a ref written by its owner is marked as having left the process");
    const got = b.c.deserialize(bytes);
    assert.ok(got.ref instanceof ObjectRef);
    assert.deepEqual([got.ref.id, got.ref.owner], [ref.id, a.c.address]);
    got.handle.inc.remote(5);
    assert.equal(callsB.length, 1, "a handle read by B calls through B's runtime");
    assert.deepEqual([callsB[0][0].actorId, callsB[0][1], callsB[0][2]], ["a1", "inc", [5]]);
    assert.equal(callsA.length, 0);
    handle.inc.remote(1);
    assert.equal(callsA.length, 1, "the original handle still calls through A's");
    assert.deepEqual(a.c.deserialize(concat(a.c.serialize(7, "n"))), 7);
  } finally {
    a.close();
    b.close();
  }
});
