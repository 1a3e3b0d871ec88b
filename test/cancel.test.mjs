import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, cancel, TaskCancelledError } from "helios";
import { startCluster } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster({ numCpus: 1 }); });
after(() => cluster.stop());

const sleep = remote(async (ms) => { await new Promise((r) => setTimeout(r, ms)); return ms; });

test("a queued task is removed and raises TaskCancelledError", async () => {
  const running = sleep.remote(400);
  const queued = sleep.remote(1);
  await cancel(queued);
  await assert.rejects(get(queued), TaskCancelledError);
  assert.equal(await get(running), 400);
});

test("a running task is interrupted, its worker replaced, and get raises TaskCancelledError", async () => {
  const forever = remote(() => { for (;;) {} });
  const ref = forever.remote();
  await new Promise((r) => setTimeout(r, 300));   // let it start
  await cancel(ref);
  await assert.rejects(get(ref, { timeout: 10_000 }), TaskCancelledError);
  assert.equal(await get(sleep.remote(5), { timeout: 10_000 }), 5);
});
