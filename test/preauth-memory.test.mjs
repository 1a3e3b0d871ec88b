// What a peer without the token can make a daemon hold: a refused gRPC call's body is never read,
// connections without calls are closed once idle, and a wire frame before the handshake is small.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { RpcClient } from "../dist/src/rpc/grpc.js";
import { startCluster } from "./helpers.mjs";

let cluster, config, transfer;
before(async () => {
  cluster = await startCluster({ numCpus: 1 });
  config = cluster.rt.core.config;
  transfer = (await cluster.agentInfo()).transferAddress;
});
after(() => cluster.stop());

/** The pid listening on host:port (the head or the agent). */
function listener(address) {
  const port = address.split(":").pop();
  const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`]).toString();
  return Number(/pid=(\d+)/.exec(out)[1]);
}
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

test("gRPC calls of 60 MB without the token are refused before their bodies are read", async () => {
  const big = Buffer.alloc(60 * 1024 * 1024, 1);
  for (const [address, service] of [[config.headAddress, "Head"], [config.agentAddress, "NodeAgent"]]) {
    const pid = listener(address);
    const before = rssMb(pid);
    const clients = Array.from({ length: 8 }, (_, i) => new RpcClient(address, service, i % 2 ? "" : "wrong"));
    const results = await Promise.all(clients.map((c) => c.call("info", { big }).then(() => "answered", (e) => e.name)));
    clients.forEach((c) => c.close());
    assert.deepEqual(results, Array(8).fill("AuthenticationError"));
    // Before, each body was received and decoded first: the head grew by ~1 GB for these 8 calls.
    assert.ok(rssMb(pid) - before < 100, `${service} grew ${Math.round(rssMb(pid) - before)} MB`);
  }
});

test("gRPC connections that make no call are closed once idle", async () => {
  // A head of its own with a short idle time (the cluster's keeps the default 60 s).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-idle-"));
  const head = spawn(process.execPath, [new URL("../dist/head/main.js", import.meta.url).pathname], {
    env: { ...process.env, HELIOS_GRPC_IDLE_MS: "500", HELIOS_TOKEN: "idle-test-token", HELIOS_HEAD_DIR: dir, HELIOS_PARENT: "1" }, stdio: ["pipe", "pipe", "inherit"] });
  try {
    const [line] = await once(createInterface({ input: head.stdout }), "line");
    const { address } = JSON.parse(line);
    const sessions = Array.from({ length: 20 }, () => http2.connect(`http://${address}`));
    await Promise.all(sessions.map((s) => new Promise((resolve, reject) => {
      s.on("error", () => {});
      s.once("close", resolve);
      setTimeout(() => reject(new Error("an idle connection was kept 10 s")), 10_000).unref();
    })));
    // A client with the token reconnects on its next call.
    const c = new RpcClient(address, "Head", "idle-test-token");
    assert.deepEqual(await c.call("listNodes"), []);
    // Its connection is closed under it once idle: the channel leaves READY (2) ...
    const channel = c.channel.getChannel();
    await new Promise((resolve) => channel.watchConnectivityState(2, Date.now() + 10_000, resolve));
    assert.notEqual(channel.getConnectivityState(false), 2);
    assert.deepEqual(await c.call("listNodes"), []);   // ... and the next call connects again
    c.close();
  } finally {
    head.stdin.end();   // the head exits with its parent's pipe
    await once(head, "exit");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("wire connections announcing 255 MB frames before the handshake are closed at once, holding nothing", async () => {
  const pid = listener(transfer);
  const before = rssMb(pid);
  const [host, port] = transfer.split(":");
  const header = Buffer.alloc(4);
  header.writeUInt32LE(255 * 1024 * 1024);
  await Promise.all(Array.from({ length: 16 }, () => new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) }, () => { s.write(header); s.write(Buffer.alloc(1 << 20)); });
    s.on("error", () => {});
    s.on("close", resolve);
  })));
  assert.ok(rssMb(pid) - before < 50, `the agent grew ${Math.round(rssMb(pid) - before)} MB`);
});
