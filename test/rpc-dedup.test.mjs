// Retried control-plane calls are deduplicated by request id: a call whose connection is lost
// after the server got it is sent again, and the handler still runs once.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { createRequire } from "node:module";
import { addService, bindServer, RpcClient } from "../dist/src/rpc/grpc.js";

const grpc = createRequire(import.meta.url)("@grpc/grpc-js");
const token = "t0ken";

/** A TCP proxy in front of `port` that, while `cutting`, drops each connection soon after the client's first bytes. */
async function flakyProxy(port) {
  const state = { cutting: true, cuts: 0, sockets: new Set() };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    state.sockets.add(client).add(upstream);
    client.on("error", () => {}); upstream.on("error", () => {});
    const cut = state.cutting;
    let armed = false;
    client.on("data", (d) => {
      upstream.write(d);
      // Drop the connection once the call is on its way (the handler is slower than this).
      if (cut && !armed) { armed = true; setTimeout(() => { state.cuts++; client.destroy(); upstream.destroy(); }, 150); }
    });
    upstream.on("data", (d) => client.write(d));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  state.port = server.address().port;
  state.close = () => { for (const s of state.sockets) s.destroy(); server.close(); };
  return state;
}

test("a call sent again after its connection dropped mid-call runs its handler once and gets the first run's reply", async () => {
  const runs = [];
  const server = new grpc.Server();
  addService(server, "Head", token, {
    createThing: async (body) => { runs.push(body.n); await new Promise((r) => setTimeout(r, 600)); return { made: body.n, run: runs.length }; },
  });
  const port = await bindServer(server, "127.0.0.1", 0);
  const proxy = await flakyProxy(port);
  const client = new RpcClient(`127.0.0.1:${proxy.port}`, "Head", token, { reconnectMs: 10_000 });
  try {
    const reply = client.call("createThing", { n: 7 });
    await new Promise((r) => setTimeout(r, 400));   // the first connection is cut by now
    proxy.cutting = false;
    assert.deepEqual(await reply, { made: 7, run: 1 });
    assert.ok(proxy.cuts >= 1, "the connection was cut under the call");
    assert.deepEqual(runs, [7], "the handler ran once");
    // A new call (a new request id) runs again.
    assert.deepEqual(await client.call("createThing", { n: 8 }), { made: 8, run: 2 });
  } finally {
    client.close();
    proxy.close();
    server.forceShutdown();
  }
});
