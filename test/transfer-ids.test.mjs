// The object-transfer port takes object ids, never paths: stat, read and free of an id that
// climbs out of the store (`../../etc/hostname`), is absolute, or holds a slash or a NUL get
// InvalidIdError, name no file, and the port goes on serving real objects.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { remote, get, InvalidIdError } from "helios";
import { connect } from "../dist/src/rpc/wire.js";
import { objectId } from "../dist/src/ids.js";
import { startCluster } from "./helpers.mjs";

let cluster;
let conn;
let storeDir;
let scratch;

before(async () => {
  cluster = await startCluster({ numCpus: 1 });
  const { transferAddress } = await cluster.agentInfo();
  conn = await connect(transferAddress, cluster.rt.core.config.token);
  storeDir = cluster.rt.core.config.storeDir;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "helios-ids-"));
});

after(async () => {
  conn?.close();
  await cluster?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A 200 KB value made by a task: it lives in the node's object store, served by the transfer port. */
const block = remote(() => new Uint8Array(200 * 1024).fill(7));

const climbing = () => path.relative(storeDir, "/etc/hostname");
const BAD_IDS = () => [climbing(), "../../../../etc/hostname", "..", ".", "/etc/hostname", "a/b", "a\0b", "", ".usage", ".store.json",
  "x".repeat(200), 42, null, { id: "x" }];

const isInvalidId = (e) => e instanceof InvalidIdError && /Tip: /.test(e.message);

test("stat and read of an id that names a path outside the store get InvalidIdError", async () => {
  for (const id of BAD_IDS()) {
    await assert.rejects(conn.request({ t: "stat", id }), isInvalidId, `stat ${JSON.stringify(id)}`);
    await assert.rejects(conn.request({ t: "read", id, offset: 0, length: 64 }), isInvalidId, `read ${JSON.stringify(id)}`);
  }
});

test("free of an id that climbs out of the store deletes nothing outside it", async () => {
  const sentinel = path.join(scratch, "sentinel");
  fs.writeFileSync(sentinel, "still here");
  const ref = block.remote();
  await get(ref);
  for (const id of [path.relative(storeDir, sentinel), sentinel, `../${path.basename(storeDir)}/../../${path.relative("/", sentinel)}`]) {
    conn.send({ t: "free", id });
    await assert.rejects(conn.request({ t: "free", id }), isInvalidId, `free ${id}`);
  }
  // Requests on one connection are served in order: a reply to this one means the frees above were handled.
  assert.equal((await conn.request({ t: "stat", id: ref.id })).size > 200 * 1024, true);
  assert.equal(fs.readFileSync(sentinel, "utf8"), "still here");
});

test("after bad ids the transfer port still serves stat and read of a stored object", async () => {
  const ref = block.remote();
  await get(ref);
  for (const id of BAD_IDS()) conn.send({ t: "stat", id });
  const { size } = await conn.request({ t: "stat", id: ref.id });
  const bytes = await conn.request({ t: "read", id: ref.id, offset: 0, length: size });
  assert.equal(bytes.length, size);
  assert.equal(bytes[size - 1], 7);
});

test("an agent asked to fetch an object under a bad id refuses it with InvalidIdError", async () => {
  const { transferAddress } = await cluster.agentInfo();
  await assert.rejects(cluster.rt.core.agent.call("fetchObject", { id: climbing(), from: transferAddress }), isInvalidId);
});

test("every id Helios makes passes the object id check", async () => {
  const ref = block.remote();
  await get(ref);
  const { newTaskId, newPutId, returnId } = await import("../dist/src/ids.js");
  for (const id of [ref.id, newPutId(), returnId(newTaskId(), 0), returnId(newTaskId(), 12345)]) assert.equal(objectId(id), id);
});
