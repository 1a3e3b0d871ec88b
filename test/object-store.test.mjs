// The node's object store: a capacity in memory, the oldest objects spilled to disk beyond it
// and read back from there, objects larger than the store written to disk directly, and
// ObjectStoreFullError once the spill disk is full too (the spill directory is a small tmpfs
// mounted for the test, so that it can fill up).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { remote, get, wait, ObjectStoreFullError } from "helios";
import { runtime } from "../dist/src/api.js";
import { collectGarbage } from "../dist/src/core/gc.js";
import { startCluster, waitFor } from "./helpers.mjs";

const MB = 2 ** 20;
const CAPACITY = 48 * MB;
const SPILL_DISK = 96 * MB;
let cluster;
let spillBase;
let storeDir;
let spillDir;

before(async () => {
  spillBase = fs.mkdtempSync(path.join(os.tmpdir(), "helios-spill-test-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${SPILL_DISK}`, "tmpfs", spillBase]);
  cluster = await startCluster({ objectStoreMemory: CAPACITY, spillDir: spillBase });
  storeDir = runtime().core.config.storeDir;
  spillDir = path.join(spillBase, `helios-spill-${runtime().core.config.nodeId}`);
});

after(async () => {
  await cluster?.stop();
  execFileSync("umount", [spillBase]);
  fs.rmSync(spillBase, { recursive: true, force: true });
});

/** `mb` MB of the number i. */
const block = remote((i, mb) => new Float64Array(mb * 131072).fill(i));
/** [length, sum of every 4096th element, last element]: checks a block without sending it back. */
const probe = remote((a) => {
  let s = 0;
  for (let k = 0; k < a.length; k += 4096) s += a[k];
  return [a.length, s, a[a.length - 1]];
});
const expected = (i, mb) => [mb * 131072, i * mb * 32, i];

/** Object files in a directory and their bytes (freed segments kept for reuse included, for the store). */
function files(dir) {
  const out = { count: 0, bytes: 0, names: [] };
  const add = (d, name) => { out.bytes += fs.statSync(path.join(d, name)).size; };
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (name.startsWith(".") || name.endsWith(".tmp") || name.endsWith(".part")) continue;
    add(dir, name);
    out.count++;
    out.names.push(name);
  }
  const pool = path.join(dir, ".pool");
  for (const name of fs.existsSync(pool) ? fs.readdirSync(pool) : []) add(pool, name);
  return out;
}

async function freed(what) {
  collectGarbage();
  await waitFor(() => { collectGarbage(); return files(storeDir).count === 0 && files(spillDir).count === 0; }, 10_000, what);
}

test("objects beyond the store's capacity spill to disk and are read back exact", async () => {
  let refs = Array.from({ length: 10 }, (_, i) => block.remote(i, 8));   // 80 MB into a 48 MB store
  const probes = await get(refs.map((r) => probe.remote(r)));
  probes.forEach((p, i) => assert.deepEqual(p, expected(i, 8), `block ${i}`));
  // Settled: within capacity, no spill under way (each block in one place, the agent's count ours).
  let info, inMemory, spilled;
  await waitFor(async () => {
    info = await cluster.agentInfo();
    inMemory = files(storeDir);
    spilled = files(spillDir);
    return inMemory.bytes <= CAPACITY && info.store.spilledObjects === spilled.count && inMemory.count + spilled.count === 10;
  }, 10_000, "the store to be back within its capacity, its spilling done");
  assert.ok(spilled.count >= 4, `at least 4 of the 10 blocks spilled (80 MB into 48 MB), got ${spilled.count}`);
  const ids = new Set(refs.map((r) => r.id));
  assert.ok(spilled.names.every((n) => ids.has(n)), `only the blocks are in the spill directory: ${spilled.names}`);
  assert.ok(inMemory.names.every((n) => ids.has(n) && !spilled.names.includes(n)), "each block is in one place");
  assert.equal(info.store.capacity, CAPACITY);
  // Read back by the driver too, from wherever each one is now.
  const values = await get(refs);
  values.forEach((a, i) => { assert.equal(a.length, 8 * 131072); assert.equal(a[0], i); assert.equal(a[a.length - 1], i); });
  refs = null;
  await freed("every block's file to go from the store and the spill directory once its ref is dropped");
});

test("an object larger than the whole store is written to the spill directory directly", async () => {
  let big = block.remote(3, 64);   // 64 MB > 48 MB
  assert.deepEqual(await get(probe.remote(big)), expected(3, 64));
  assert.ok(files(spillDir).names.includes(big.id), "the 64 MB block is in the spill directory");
  await waitFor(() => files(storeDir).bytes <= CAPACITY, 10_000, "the store to be within its capacity");
  big = null;
  await freed("the 64 MB block to be freed");
});

test("with memory and the spill disk full, ObjectStoreFullError; the node keeps serving, and freeing makes room again", async () => {
  let refs = [];
  let failure;
  for (let i = 0; i < 24 && !failure; i++) {   // 8 MB each: 48 MB of memory and a 96 MB disk hold 17 at most
    const ref = block.remote(i, 8);
    refs.push(ref);
    await wait([ref]);
    failure = await get(probe.remote(ref)).then(() => undefined, (e) => e);
  }
  assert.ok(failure, "a block failed to be stored");
  assert.ok(refs.length >= 14 && refs.length <= 18, `the failing block is one of the 14th–18th, got the ${refs.length}th`);
  const err = await get(refs.at(-1)).then(() => assert.fail("the failed block resolved"), (e) => e);
  assert.ok(err instanceof ObjectStoreFullError, String(err));
  assert.match(err.message, /no room for an object of 8\.0 MB/);
  assert.match(err.message, /Tip: drop refs/);
  assert.ok(failure instanceof ObjectStoreFullError, `a task given the failed block fails with it too: ${failure}`);
  // Small values travel inline: the node goes on running tasks.
  assert.equal(await get(remote((x) => x + 1).remote(41)), 42);
  // The blocks stored before the failure are all intact.
  const probes = await get(refs.slice(0, -1).map((r) => probe.remote(r)));
  probes.forEach((p, i) => assert.deepEqual(p, expected(i, 8), `block ${i}`));
  refs = null;
  await freed("the blocks to be freed");
  assert.deepEqual(await get(probe.remote(block.remote(99, 8))), expected(99, 8));
});

test("a free racing a spill leaves no file behind, two spills of one object keep it, and a spilled object reads back from disk", async () => {
  const { LocalStore } = await import("../dist/src/object-store/local-store.js");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-store-unit-"));
  const spill = path.join(dir, "spill");
  const mem = path.join(dir, "mem");
  fs.mkdirSync(spill);
  fs.mkdirSync(mem);
  fs.writeFileSync(path.join(mem, ".store.json"), JSON.stringify({ capacity: 64 * MB, spillDir: spill }));
  try {
    const store = new LocalStore(mem);
    const value = (n) => ({ chunks: [Buffer.alloc(n, 7)], size: n, nested: [] });
    store.write("a.0", value(3 * MB));
    assert.equal(store.spillSync("a.0"), true);
    assert.deepEqual([fs.existsSync(path.join(mem, "a.0")), fs.existsSync(path.join(spill, "a.0"))], [false, true]);
    assert.equal(store.read("a.0").length, 3 * MB);
    assert.equal(store.locate("a.0"), path.join(spill, "a.0"));
    store.recycle("a.0");
    await waitFor(() => !fs.existsSync(path.join(spill, "a.0")), 2000, "the spilled copy to be freed");
    for (let i = 0; i < 10; i++) {   // two spills of one object at once (the agent's and a writer's): one moves it, it survives
      store.write(`c.${i}`, value(2 * MB));
      const moved = await Promise.all([store.spill(`c.${i}`), store.spill(`c.${i}`)]);
      assert.deepEqual(moved.sort(), [false, true]);
      assert.equal(store.read(`c.${i}`).length, 2 * MB);
      store.recycle(`c.${i}`);
    }
    for (let i = 0; i < 20; i++) {   // the free lands while the copy is under way
      store.write(`b.${i}`, value(2 * MB));
      const moving = store.spill(`b.${i}`);
      store.recycle(`b.${i}`);
      await moving;
    }
    await waitFor(() => fs.readdirSync(spill).length === 0 && fs.readdirSync(mem).filter((n) => !n.startsWith(".")).length === 0, 2000,
      `no file left: spill ${fs.readdirSync(spill)}, store ${fs.readdirSync(mem)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
