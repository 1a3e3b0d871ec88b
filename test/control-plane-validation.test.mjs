// Every control-plane method checks its body at the edge: an authenticated call with a
// wrong-typed body gets InvalidRequestError naming the method and the wrong place, changes
// nothing, and leaves nothing in the head's storage; the daemons carry on serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { InvalidRequestError, get, kv, remote } from "helios";
import { RpcClient } from "../dist/src/rpc/grpc.js";
import { HeadStore } from "../dist/head/store.js";
import { headRequests } from "../dist/head/requests.js";
import { agentRequests } from "../dist/node-agent/requests.js";
import { startCluster } from "./helpers.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const storage = fs.mkdtempSync(path.join(os.tmpdir(), "helios-validation-test-"));
let cluster, head, agent, config, nodeId;

before(async () => {
  process.env.HELIOS_HEAD_STORAGE = storage;   // the embedded head keeps its tables where this test can restart it
  try { cluster = await startCluster({ numCpus: 1 }); } finally { delete process.env.HELIOS_HEAD_STORAGE; }
  config = cluster.rt.core.config;
  head = new RpcClient(config.headAddress, "Head", config.token);
  agent = new RpcClient(config.agentAddress, "NodeAgent", config.token);
  nodeId = (await agent.call("info")).nodeId;
});
after(async () => {
  head?.close();
  agent?.close();
  await cluster?.stop();
  fs.rmSync(storage, { recursive: true, force: true });
});

const bytes = new Uint8Array([1, 2, 3]);
const job = () => ({ jobId: "jValidation", namespace: "ns", driverAddress: "127.0.0.1:1", cwd: "/tmp", execArgv: [] });
const spec = () => ({ taskId: "t1", name: "C.constructor", jobId: config.jobId, fnId: "f1", args: [{ v: bytes }], numReturns: 0, owner: "127.0.0.1:1" });
const registration = () => ({ nodeId: "nBogus", agentAddress: "127.0.0.1:1", transferAddress: "127.0.0.1:2", resources: { CPU: 4 },
  available: { CPU: 4 }, labels: {}, storeDir: "/tmp/x" });
const createActor = () => ({ actorId: "aBogus", jobId: config.jobId, className: "C", methods: ["m"], namespace: "ns", detached: true,
  resources: { CPU: 0 }, maxConcurrency: 1, maxRestarts: 0, maxTaskRetries: 0, spec: spec() });
const notAnObject = [null, 42, "a string", [1, 2], bytes];
const HASH = "ab".repeat(32);   // a well-formed package hash: the bodies are wrong elsewhere

/**
 * Per method: bodies that must be refused, each with the path the error must name. Every body
 * is wrong in one place only (the rest of it is valid), so the message points at that place.
 */
const cases = {
  Head: {
    hasPackage: [[{ hash: "../../etc/passwd" }, "body.hash"], [{ hash: 5 }, "body.hash"]],
    putPackageChunk: [[{ hash: HASH, offset: -1, bytes, last: true }, "body.offset"], [{ hash: HASH, offset: 0, bytes: "x", last: true }, "body.bytes"],
      [{ hash: HASH, offset: 0, bytes, last: "yes" }, "body.last"]],
    getPackageChunk: [[{ hash: HASH, offset: 0, length: 0 }, "body.length"], [{ hash: HASH, offset: 0, length: 1e12 }, "body.length"],
      [{ hash: HASH, offset: "0", length: 10 }, "body.offset"]],
    kvPut: [[{ namespace: "n", key: {}, value: bytes }, "body.key"], [{ namespace: null, key: "k", value: bytes }, "body.namespace"],
      [{ namespace: "n", key: "k", value: "x" }, "body.value"], [{ namespace: "n", key: "k", value: bytes, overwrite: "no" }, "body.overwrite"]],
    kvGet: [[{ namespace: "n", key: 5 }, "body.key"], [{ namespace: "n" }, "body.key"]],
    kvDelete: [[{ namespace: "n", key: "k", prefix: 1 }, "body.prefix"], [{ namespace: {}, key: "k" }, "body.namespace"]],
    kvKeys: [[{ namespace: [], prefix: "p" }, "body.namespace"], [{ namespace: "n", prefix: 3 }, "body.prefix"]],
    registerNode: [[{ ...registration(), resources: undefined }, "body.resources"], [{ ...registration(), resources: { CPU: "4" } }, "body.resources.CPU"],
      [{ ...registration(), nodeId: null }, "body.nodeId"], [{ ...registration(), nodeId: {} }, "body.nodeId"], [{ ...registration(), labels: { zone: 1 } }, "body.labels.zone"],
      [{ ...registration(), actors: [{ actorId: 1, workerId: "w" }] }, "body.actors[0].actorId"]],
    heartbeat: [[() => ({ nodeId, available: "lots" }), "body.available"], [() => ({ nodeId, available: { CPU: NaN } }), "body.available.CPU"],
      [{ nodeId: {}, available: {} }, "body.nodeId"]],
    watchNodes: [[{ since: "0" }, "body.since"], [{ since: 0, waitMs: -5 }, "body.waitMs"]],
    placeLease: [[{ resources: { CPU: -1 } }, "body.resources.CPU"], [{ resources: { CPU: 1 }, strategy: "PACK" }, "body.strategy"],
      [{ resources: { CPU: 1 }, strategy: { nodeId: 3 } }, "body.strategy.nodeId"], [{ resources: { CPU: 1 }, localAvailable: [] }, "body.localAvailable"]],
    listNodes: [],
    headInfo: [],
    registerJob: [[{ ...job(), jobId: undefined }, "body.jobId"], [{ ...job(), jobId: null }, "body.jobId"], [{ ...job(), jobId: {} }, "body.jobId"],
      [{ ...job(), execArgv: "x" }, "body.execArgv"], [{ ...job(), cwd: 4 }, "body.cwd"],
      [{ ...job(), envVars: { HELIOS_TOKEN: "x" } }, "body.envVars"], [{ ...job(), envVars: { A: 1 } }, "body.envVars.A"]],
    getJob: [[{ jobId: {} }, "body.jobId"]],
    createActor: [[() => ({ ...createActor(), actorId: null }), "body.actorId"], [() => ({ ...createActor(), resources: { CPU: "1" } }), "body.resources.CPU"],
      [() => ({ ...createActor(), spec: {} }), "body.spec.taskId"], [() => ({ ...createActor(), spec: { ...spec(), args: [{ v: "x" }] } }), "body.spec.args[0].v"],
      [() => ({ ...createActor(), maxConcurrency: 0 }), "body.maxConcurrency"], [() => ({ ...createActor(), detached: "yes" }), "body.detached"],
      [() => ({ ...createActor(), strategy: 7 }), "body.strategy"], [() => ({ ...createActor(), maxPendingCalls: 0.5 }), "body.maxPendingCalls"],
      [() => ({ ...createActor(), envVars: { "A-B": "x" } }), "body.envVars"]],
    waitActor: [[{ actorId: 5 }, "body.actorId"]],
    waitActorSettled: [[{ actorId: null }, "body.actorId"]],
    getActor: [[{ actorId: [] }, "body.actorId"]],
    getNamedActor: [[{ name: "", namespace: "ns" }, "body.name"], [{ name: "x", namespace: 1 }, "body.namespace"]],
    killActor: [[{ actorId: {} }, "body.actorId"]],
    workerDied: [[{ workerId: "w", nodeId: "n", death: "boom" }, "body.death"], [{ workerId: "w", nodeId: "n", death: { name: "E" } }, "body.death.message"],
      [{ workerId: "w", nodeId: "n", actorId: 7, death: { name: "E", message: "m" } }, "body.actorId"]],
    listActors: [],
  },
  NodeAgent: {
    registerDriver: [[{ ...job(), execArgv: [1] }, "body.execArgv[0]"], [{ ...job(), jobId: undefined }, "body.jobId"], [{ ...job(), envVars: [] }, "body.envVars"]],
    requestLease: [[() => ({ jobId: config.jobId, resources: { CPU: "1" }, owner: "x" }), "body.resources.CPU"], [() => ({ jobId: config.jobId, resources: {} }), "body.owner"],
      [() => ({ jobId: config.jobId, resources: {}, owner: "x", envVars: { NODE_OPTIONS: "--inspect" } }), "body.envVars"],
      [() => ({ jobId: config.jobId, resources: {}, owner: "x", envVars: { A: "x".repeat(32 * 1024 + 1) } }), "body.envVars.A"]],
    fetchObject: [[{ id: 1, from: "x" }, "body.id"]],
    returnLease: [[{ leaseId: null }, "body.leaseId"]],
    startActor: [[() => ({ actorId: "a", jobId: config.jobId, spec: { taskId: 1 }, resources: {}, placement: {}, maxConcurrency: 1 }), "body.spec.taskId"],
      [() => ({ actorId: "a", jobId: config.jobId, spec: spec(), resources: {}, placement: { CPU: -2 }, maxConcurrency: 1 }), "body.placement.CPU"],
      [() => ({ actorId: "a", jobId: config.jobId, spec: spec(), resources: {}, placement: {}, maxConcurrency: 1, envVars: "A=1" }), "body.envVars"]],
    killWorker: [[{ workerId: {} }, "body.workerId"], [{ workerId: "w", reason: 5 }, "body.reason"]],
    workerFate: [[{ workerId: 1 }, "body.workerId"]],
    workerBlocked: [[{ workerId: null }, "body.workerId"]],
    workerUnblocked: [[{ workerId: [] }, "body.workerId"]],
    jobEnded: [[{ jobId: {} }, "body.jobId"]],
    info: [],
  },
};

test("the cases below cover every method of the Head and NodeAgent services", () => {
  assert.deepEqual(Object.keys(cases.Head).sort(), Object.keys(headRequests).sort());
  assert.deepEqual(Object.keys(cases.NodeAgent).sort(), Object.keys(agentRequests).sort());
});

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function refused(service, method, body, where) {
  const client = service === "Head" ? head : agent;
  await assert.rejects(client.call(method, body, 10_000), (e) => {
    assert.ok(e instanceof InvalidRequestError, `${service}.${method}(${inspect(body, { depth: 1 })}) was not refused as invalid: ${e?.stack ?? e}`);
    assert.match(e.message, new RegExp(`^INVALID_ARGUMENT: ${service}\\.${escape(method)} refused its request: ${escape(where)}: expected .*, got .*Tip: `));
    return true;
  }, `${service}.${method}(${inspect(body, { depth: 1 })}) was answered`);
}

for (const service of ["Head", "NodeAgent"]) {
  test(`every ${service} method refuses a body that is not an object, naming the method`, async () => {
    for (const method of Object.keys(cases[service])) for (const body of notAnObject) await refused(service, method, body, "body");
  });

  test(`every ${service} method refuses missing and wrong-typed fields, naming the path`, async () => {
    for (const [method, list] of Object.entries(cases[service])) {
      for (const [body, where] of list) await refused(service, method, typeof body === "function" ? body() : body, where);
    }
  });
}

test("after all those calls the head and the agent still serve, and work runs", async () => {
  const nodes = await head.call("listNodes");
  assert.deepEqual(nodes.map((n) => [n.nodeId, n.state]), [[nodeId, "ALIVE"]], "no node was registered by a refused call");
  assert.equal(nodes[0].resources.CPU, 1);
  assert.equal((await agent.call("info")).total.CPU, 1);
  assert.equal(await head.call("getJob", { jobId: "jValidation" }), null);
  assert.deepEqual(await head.call("listActors"), []);
  const f = remote(() => 6 * 7);
  assert.equal(await get(f.remote()), 42);
  assert.equal(await kv.put("kept", { ok: true }), true);
});

test("a restarted head loads only the valid records: no junk key was persisted", async () => {
  const driverJob = config.jobId;
  await cluster.stop();
  cluster = undefined;
  const proc = spawn(process.execPath, [path.join(root, "dist/head/main.js")], {
    env: { ...process.env, HELIOS_TOKEN: "t", HELIOS_HEAD_STORAGE: storage, HELIOS_PORT: "0", HELIOS_PARENT: "", HELIOS_JOB: "" },
    stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => { stderr += d; });
  try {
    const [line] = await Promise.race([once(createInterface({ input: proc.stdout }), "line"), once(proc, "exit").then(() => { throw new Error(stderr); })]);
    const info = JSON.parse(line);
    assert.deepEqual(info.loaded, { nodes: 1, actors: 0, jobs: 1, skipped: 0 }, stderr);
    assert.equal(stderr, "");
    const c = new RpcClient(info.address, "Head", "t");
    try {
      assert.equal((await c.call("getJob", { jobId: driverJob })).jobId, driverJob);
      assert.deepEqual((await c.call("listNodes")).map((n) => n.nodeId), [nodeId]);
      assert.ok((await c.call("kvGet", { namespace: config.namespace, key: "kept" })).value instanceof Uint8Array);
      assert.deepEqual((await c.call("headInfo")).skipped, []);
    } finally { c.close(); }
  } finally {
    proc.kill("SIGTERM");
    await once(proc, "exit");
  }
  const s = HeadStore.open(storage);
  try {
    assert.deepEqual(s.loadReport.skipped, []);
    const keys = ["nodes", "actors", "jobs", "kv"].flatMap((t) => [...s.table(t).keys()]);
    assert.deepEqual(keys, [nodeId, driverJob, `${config.namespace}\0kept`]);
  } finally { s.close(); }
});
