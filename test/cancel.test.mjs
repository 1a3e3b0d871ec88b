import { before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, cancel, TaskCancelledError } from "helios";
import { startCluster, clusterTest, latch } from "./helpers.mjs";
import { held, spinning } from "./fixtures/latch.mjs";

let cluster;
before(async () => { cluster = await startCluster({ numCpus: 1 }); });
after(() => cluster.stop());

const echo = remote((x) => x);

clusterTest("a queued task is removed and raises TaskCancelledError", async () => {
  const started = latch("started"), release = latch("release");
  const running = held.remote(started.path, release.path, "ran");   // holds the one CPU until released
  const queued = echo.remote(1);
  await started.opened();
  await cancel(queued);
  await assert.rejects(get(queued), TaskCancelledError);
  release.open();
  assert.equal(await get(running), "ran");
}, { deadlineMs: 30_000 });

clusterTest("a running task is interrupted, its worker replaced, and get raises TaskCancelledError", async () => {
  const started = latch("started");
  const ref = spinning.remote(started.path);
  await started.opened();
  await cancel(ref);
  await assert.rejects(get(ref, { timeout: 10_000 }), TaskCancelledError);
  assert.equal(await get(echo.remote(5), { timeout: 10_000 }), 5);
}, { deadlineMs: 30_000 });
