import { before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, kill, TaskUnschedulableError, ActorDiedError } from "helios";
import * as fs from "node:fs";
import { startCluster, clusterTest, latch, waitFor } from "./helpers.mjs";
import { held, loggedHeld } from "./fixtures/latch.mjs";

let cluster;
before(async () => { cluster = await startCluster({ numCpus: 4, numGpus: 1, resources: { widget: 2 } }); });
after(() => cluster.stop());

const span = remote(async (ms) => ms);   // for the tests of what can never run

/** The most tasks that ran at once, from a log of "start i" / "end i" lines in the order they happened. */
function maxOverlap(lines) {
  let cur = 0, max = 0;
  for (const l of lines) { cur += l.startsWith("start") ? 1 : -1; max = Math.max(max, cur); }
  return max;
}

/**
 * Runs n held tasks with these options, releasing one at a time, each only once `k` are running
 * (or all that are left): returns the most that ran at once. More than k shows as a start logged
 * while k were held; fewer never fills k, and the wait for it times out.
 */
async function mostAtOnce(options, n, k) {
  const log = latch("log").path;
  const releases = Array.from({ length: n }, (_, i) => latch(`release-${i}`));
  const refs = releases.map((r, i) => loggedHeld.options(options).remote(log, i, r.path));
  const lines = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : []);
  const running = () => {
    const ls = lines();
    return ls.filter((l) => l.startsWith("start")).map((l) => l.slice(6)).filter((i) => !ls.includes(`end ${i}`));
  };
  for (let done = 0; done < n; done++) {
    await waitFor(() => running().length >= Math.min(k, n - done), 20_000, `${Math.min(k, n - done)} tasks to run at once: ${lines()}`);
    const [i] = running();
    releases[i].open();
    await waitFor(() => lines().includes(`end ${i}`), 20_000, `task ${i} to end`);
  }
  assert.deepEqual(await get(refs), Array.from({ length: n }, (_, i) => i));
  return maxOverlap(lines());
}

clusterTest("tasks needing a GPU wait for the node's one GPU", async () => {
  assert.equal(await mostAtOnce({ numGpus: 1 }, 3, 1), 1);
}, { deadlineMs: 60_000 });

clusterTest("custom resources are accounted: two widgets, never three tasks at once", async () => {
  assert.equal(await mostAtOnce({ resources: { widget: 1 } }, 6, 2), 2);
}, { deadlineMs: 60_000 });

clusterTest("numCpus is accounted: 2-CPU tasks on a 4-CPU node run two at a time", async () => {
  assert.equal(await mostAtOnce({ numCpus: 2 }, 4, 2), 2);
}, { deadlineMs: 60_000 });

clusterTest("an actor with numCpus: 0 is placed on a node whose CPUs are all taken (as in Ray)", async () => {
  const releases = Array.from({ length: 4 }, (_, i) => latch(`cpu-${i}`));
  const starts = Array.from({ length: 4 }, (_, i) => latch(`cpu-started-${i}`));
  const busy = releases.map((r, i) => held.remote(starts[i].path, r.path, i));
  for (const s of starts) await s.opened();   // all 4 CPUs held
  const Light = remote(class Light { ping() { return "pong"; } });
  const light = Light.options({ numCpus: 0 }).remote();
  assert.equal(await get(light.ping.remote()), "pong", "placed and answering while no CPU is free");
  for (const r of releases) r.open();
  assert.deepEqual(await get(busy), [0, 1, 2, 3]);
  await kill(light);
});

clusterTest("free resources return to the total once tasks finish", async () => {
  await waitFor(async () => {
    const info = await cluster.agentInfo();
    return info.available.CPU === 4 && info.available.GPU === 1 && info.available.widget === 2;
  }, 5000, "resources to be released");
});

clusterTest("a task that no node can ever fit is reported instead of hanging", async () => {
  const huge = span.options({ numCpus: 64 });
  await assert.rejects(get(huge.remote(1)), (e) => e instanceof TaskUnschedulableError && /CPU: 64/.test(e.message));
  await assert.rejects(get(span.options({ resources: { unicorn: 1 } }).remote(1)), TaskUnschedulableError);
});

clusterTest("an actor that no node can fit is reported when called", async () => {
  const A = remote(class A { ping() { return 1; } });
  const a = A.options({ numGpus: 8 }).remote();
  await assert.rejects(get(a.ping.remote()), (e) => e instanceof ActorDiedError && e.cause?.name === "TaskUnschedulableError");
});
