// helios/util progress(): get() for many refs with a bar on a terminal, silence elsewhere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, put, TaskError } from "helios";
import { progress } from "helios/util";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

const square = remote((x) => x * x);
const failOn = remote((x, bad) => { if (x === bad) throw new Error(`bad ${x}`); return x; });

/** A stream that records what is written to it; `isTTY` as given. */
function recorder(isTTY) {
  const writes = [];
  return { writes, stream: { isTTY, columns: 80, write: (s) => { writes.push(s); return true; } } };
}

test("progress returns the values in order and draws a bar up to n/n on a terminal", async () => {
  const { writes, stream } = recorder(true);
  const refs = Array.from({ length: 20 }, (_, i) => square.remote(i));
  assert.deepEqual(await progress(refs, { label: "squares", stream }), Array.from({ length: 20 }, (_, i) => i * i));
  assert.ok(writes.length >= 2, "at least a first and a last frame");
  assert.match(writes[0], /^\rsquares \[\.+\] 0\/20 /);
  assert.match(writes.at(-1), /^\rsquares \[#+\] 20\/20 [\d.]+s\n$/);
  assert.ok(writes.every((w) => w.startsWith("\r")), "frames redraw one line");
});

test("progress writes nothing when the stream is not a terminal", async () => {
  const { writes, stream } = recorder(false);
  assert.deepEqual(await progress([square.remote(3), put(7)], { stream }), [9, 7]);
  assert.deepEqual(writes, []);
});

test("progress of no refs is an empty list with a full bar", async () => {
  const { writes, stream } = recorder(true);
  assert.deepEqual(await progress([], { stream }), []);
  assert.match(writes.at(-1), /^\rprogress \[#+\] 0\/0 [\d.]+s\n$/);
});

test("progress rejects with the TaskError of a failed ref and ends its line", async () => {
  const { writes, stream } = recorder(true);
  const refs = [1, 2, 3].map((x) => failOn.remote(x, 2));
  await assert.rejects(progress(refs, { stream }), (e) => e instanceof TaskError && /bad 2/.test(e.message));
  assert.ok(writes.at(-1).endsWith("\n"));
});
