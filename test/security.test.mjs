import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { AuthenticationError, VersionMismatchError } from "helios";
import { RpcClient } from "../dist/src/rpc/grpc.js";
import { connect } from "../dist/src/rpc/wire.js";
import { startCluster, waitFor } from "./helpers.mjs";

let cluster;
before(async () => { cluster = await startCluster({ numCpus: 1 }); });
after(() => cluster.stop());

const grpcUnauthenticated = 16;
const grpcPermissionDenied = 7;

for (const service of ["Head", "NodeAgent"]) {
  const address = () => service === "Head" ? cluster.rt.core.config.headAddress : cluster.rt.core.config.agentAddress;

  test(`a ${service} call without the token is refused as UNAUTHENTICATED`, async () => {
    const c = new RpcClient(address(), service, "");
    await assert.rejects(c.call(service === "Head" ? "listNodes" : "info"), (e) =>
      e instanceof AuthenticationError && e.cause.code === grpcUnauthenticated);
    c.close();
  });

  test(`a ${service} call with a wrong token is refused as PERMISSION_DENIED`, async () => {
    const c = new RpcClient(address(), service, "not-the-token");
    await assert.rejects(c.call(service === "Head" ? "listNodes" : "info"), (e) =>
      e instanceof AuthenticationError && e.cause.code === grpcPermissionDenied);
    c.close();
  });
}

test("the right token is accepted", async () => {
  const c = new RpcClient(cluster.rt.core.config.headAddress, "Head", cluster.rt.core.config.token);
  const nodes = await c.call("listNodes");
  assert.equal(nodes.length, 1);
  c.close();
});

test("driver, worker and object-transfer endpoints refuse a connection without the right token", async () => {
  await waitFor(async () => (await cluster.agentInfo()).workers.some((w) => w.address), 10_000, "a worker to start");
  const { workers, transferAddress } = await cluster.agentInfo();
  const worker = workers.find((w) => w.address);
  for (const endpoint of [cluster.rt.core.address, worker.address, transferAddress]) {
    await assert.rejects(connect(endpoint, ""), (e) => e instanceof AuthenticationError && /missing/.test(e.message));
    await assert.rejects(connect(endpoint, "wrong"), (e) => e instanceof AuthenticationError && /wrong/.test(e.message));
  }
});

test("a driver of another Helios version gets VersionMismatchError when it connects", async () => {
  const { execFile } = await import("node:child_process");
  const script = `import { init } from "helios";
    try { await init(); console.log("connected"); } catch (e) { console.log(e.name + ": " + e.message); }`;
  const out = await new Promise((resolve) => execFile(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, HELIOS_ADDRESS: cluster.rt.core.config.headAddress, HELIOS_TOKEN: cluster.rt.core.config.token,
      HELIOS_TEST_PROTOCOL_VERSION: "99.0" }, timeout: 30_000 }, (_e, stdout) => resolve(stdout)));
  assert.match(out, /^VersionMismatchError: .*99\.0/m);
});

test("a client of another protocol version gets VersionMismatchError", async () => {
  const net = await import("node:net");
  const { Packr } = await import("msgpackr");
  const packr = new Packr({ useRecords: false });
  const [host, port] = cluster.rt.core.address.split(":");
  const reply = await new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) }, () => {
      const body = packr.pack([{ t: "hello", token: cluster.rt.core.config.token, version: "0.0-old" }]);
      const head = Buffer.alloc(4); head.writeUInt32LE(body.length);
      s.write(Buffer.concat([head, body]));
    });
    let buf = Buffer.alloc(0);
    s.on("data", (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) { resolve(packr.unpack(buf.subarray(4, 4 + buf.readUInt32LE(0)))); s.destroy(); } });
    s.on("error", reject);
  });
  assert.equal(reply[0].t, "denied");
  assert.equal(reply[0].code, "version");
  assert.ok(VersionMismatchError);
});

test("the daemons keep serving after refused and malformed calls", async () => {
  const c = new RpcClient(cluster.rt.core.config.agentAddress, "NodeAgent", cluster.rt.core.config.token);
  await assert.rejects(c.call("noSuchMethod"), /unknown method/);
  const info = await c.call("info");
  assert.equal(info.total.CPU, 1);
  c.close();
});

test("every endpoint binds to 127.0.0.1 unless told otherwise", async () => {
  const { workers, transferAddress } = await cluster.agentInfo();
  const c = cluster.rt.core.config;
  for (const a of [c.headAddress, c.agentAddress, transferAddress, cluster.rt.core.address, ...workers.filter((w) => w.address).map((w) => w.address)]) {
    assert.match(a, /^127\.0\.0\.1:\d+$/);
  }
});
