// How an embedded cluster starts: what its daemons and workers inherit, the driver's job known to
// the head and agent from their first moment, and a wire endpoint that serves before its handler is set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { WireServer, connect } from "../dist/src/rpc/wire.js";

test("the head and agent start without NODE_EXTRA_CA_CERTS (and msgpackr's native addon); workers and tasks see the user's value", async () => {
  const pem = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "helios-ca-")), "extra.pem");
  fs.writeFileSync(pem, tls.rootCertificates[0] + "\n");
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: pem };
  delete env.MSGPACKR_NATIVE_ACCELERATION_DISABLED;
  const out = await new Promise((resolve, reject) => execFile(process.execPath, ["test/fixtures/startup-driver.mjs"], { env, timeout: 30_000 },
    (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout))));
  fs.rmSync(path.dirname(pem), { recursive: true, force: true });
  const r = JSON.parse(out.trim().split("\n").pop());
  assert.equal(r.task, pem, "a task sees the driver's NODE_EXTRA_CA_CERTS");
  for (const d of [r.head, r.agent]) assert.deepEqual(d, { extra: null, msgpackrNative: "true", job: true });
  assert.equal(r.workers.length, 2);
  for (const w of r.workers) assert.deepEqual(w, { extra: pem, msgpackrNative: "true", job: false });
  // The head registered the job from its environment: init() made no registration call.
  assert.equal(r.job.driverAddress, r.driverAddress);
});

test("a wire endpoint accepts connections before it has a handler; their requests wait for serve()", async () => {
  const server = new WireServer("t0ken");
  const address = await server.listen("127.0.0.1", 0);
  // The request has reached the server (its early handler) before serve() is called.
  const arrived = new Promise((resolve) => {
    server.onOpen = (c) => { const early = c.onRequest; c.onRequest = (m, cc) => { resolve(); return early(m, cc); }; };
  });
  const conn = await connect(address, "t0ken");
  let served = false;
  const reply = conn.request({ t: "echo", v: 42 });
  await arrived;
  server.onOpen = undefined;
  server.serve((c) => { c.onRequest = (m) => { served = true; return { echoed: m.v }; }; });
  assert.deepEqual(await reply, { echoed: 42 });
  assert.equal(served, true);
  // A connection after serve() goes straight to the handler.
  const conn2 = await connect(address, "t0ken");
  assert.deepEqual(await conn2.request({ t: "echo", v: 7 }), { echoed: 7 });
  conn.close(); conn2.close(); server.close();
});
