// Retried control-plane calls are deduplicated by request id: a call whose connection is lost
// after the server got it is sent again, and the handler still runs once.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { createRequire } from "node:module";
import { addService, bindServer, RpcClient } from "../dist/src/rpc/grpc.js";

const grpc = createRequire(import.meta.url)("@grpc/grpc-js");
const token = "t0ken";

/** A TCP proxy in front of `port`; cut() drops the connections it carries now. */
async function proxyTo(port) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("error", () => {}); upstream.on("error", () => {});
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => client.write(d));
    client.on("close", () => { sockets.delete(client); upstream.destroy(); });
    upstream.on("close", () => { sockets.delete(upstream); client.destroy(); });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const state = { port: server.address().port, cuts: 0 };
  state.cut = () => { state.cuts++; for (const s of sockets) s.destroy(); };
  state.close = () => { state.cut(); server.close(); };
  return state;
}

test("a call sent again after its connection dropped mid-call runs its handler once and gets the first run's reply", async () => {
  const runs = [];
  let started, release;
  const running = new Promise((r) => { started = r; });
  const go = new Promise((r) => { release = r; });
  const server = new grpc.Server();
  addService(server, "Head", token, {
    createThing: async (body) => { runs.push(body.n); started(); if (runs.length === 1) await go; return { made: body.n, run: runs.length }; },
  });
  const port = await bindServer(server, "127.0.0.1", 0);
  const proxy = await proxyTo(port);
  const client = new RpcClient(`127.0.0.1:${proxy.port}`, "Head", token, { reconnectMs: 10_000 });
  try {
    const reply = client.call("createThing", { n: 7 });
    await running;   // the server got the call: its connection drops mid-call
    proxy.cut();
    release();
    assert.deepEqual(await reply, { made: 7, run: 1 });
    assert.deepEqual(runs, [7], "the handler ran once");
    // A new call (a new request id) runs again.
    assert.deepEqual(await client.call("createThing", { n: 8 }), { made: 8, run: 2 });
  } finally {
    client.close();
    proxy.close();
    server.forceShutdown();
  }
});
