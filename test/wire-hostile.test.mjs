// Hostile bytes on the wire protocol: every listener (driver, worker, the agent's transfer port)
// closes the one connection that sends a malformed frame, before or after the handshake, and
// keeps serving; the client side survives a hostile server the same way and never sends it the
// token. A seeded fuzzer sends random and mutated frames to each endpoint.
process.env.HELIOS_HANDSHAKE_MS = "1500";   // before helios loads: daemons and this process read it at start
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Packr } from "msgpackr";

const { startCluster, waitFor } = await import("./helpers.mjs");
const { remote, get, AuthenticationError, InvalidRequestError } = await import("helios");
const { connect, PRE_AUTH_MAX_FRAME } = await import("../dist/src/rpc/wire.js");
const { proof } = await import("../dist/src/rpc/handshake.js");

const packr = new Packr({ useRecords: false, moreTypes: true });
const frame = (body) => { const b = Buffer.isBuffer(body) ? body : packr.pack(body); const h = Buffer.alloc(4); h.writeUInt32LE(b.length); return Buffer.concat([h, b]); };

let cluster, endpoints, token;
before(async () => {
  cluster = await startCluster({ numCpus: 1 });
  token = cluster.rt.core.config.token;
  await get(remote(() => 1).remote());   // a worker with an endpoint
  const { workers, transferAddress } = await cluster.agentInfo();
  endpoints = { driver: cluster.rt.core.address, worker: workers.find((w) => w.address).address, transfer: transferAddress };
});
after(() => cluster.stop());

/** Write `bytes` on a fresh TCP connection; resolves with what came back once the server closes it. */
function exchange(address, bytes, { waitMs = 4000 } = {}) {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const got = [];
    const s = net.connect({ host, port: Number(port) }, () => s.write(bytes));
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`${address} kept the connection open after ${bytes.length} hostile bytes`)); }, waitMs);
    s.on("data", (d) => got.push(d));
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(timer); resolve(decodeFrames(Buffer.concat(got))); });
  });
}

function decodeFrames(buf) {
  const out = [];
  while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
    out.push(...packr.unpack(buf.subarray(4, 4 + buf.readUInt32LE(0))));
    buf = buf.subarray(4 + buf.readUInt32LE(0));
  }
  return out;
}

/** Each endpoint still answers an authenticated request, and the worker still runs tasks. */
async function allServe() {
  for (const [name, address] of Object.entries(endpoints)) {
    const c = await connect(address, token);
    await assert.rejects(c.request({ t: "stat", id: "no-such-object" }), (e) => e instanceof Error, `${name} answers`);
    c.close();
  }
  assert.equal(await get(remote((x) => x + 1).remote(41)), 42);
}

const malformed = {
  "the 13-byte frame of the report (a map)": Buffer.from("0900000081a174a568656c6c6f", "hex"),
  "a frame of nil": frame(null),
  "a frame of an integer": frame(7),
  "a list holding nil": frame([null]),
  "a list holding a number": frame([1]),
  "a list holding a string": frame(["hello"]),
  "a list holding a list": frame([[{ t: "hello" }]]),
  "a message whose type is not a string": frame([{ t: 5 }]),
  "a reply to nothing with a bad id": frame([{ t: "reply", re: "x" }]),
  "a hello without a nonce": frame([{ t: "hello", version: "0.2" }]),
  "a hello with a nonce of the wrong size": frame([{ t: "hello", version: "0.2", nonce: Buffer.alloc(3) }]),
  "a request before the hello": frame([{ t: "push", rid: 1, task: {} }]),
  "bytes that are not msgpack": frame(Buffer.from([0xc1, 0xc1, 0xc1])),
  "a length prefix of 200 MB": Buffer.from([0x00, 0x00, 0x00, 0x0c, 1, 2, 3]),
  "a frame just over the pre-handshake limit": frame(Buffer.alloc(PRE_AUTH_MAX_FRAME + 1 - 5, 0xc0)),
};

for (const [what, bytes] of Object.entries(malformed)) {
  test(`${what} closes that connection and every endpoint keeps serving`, async () => {
    for (const address of Object.values(endpoints)) {
      const replies = await exchange(address, bytes);
      assert.ok(replies.every((m) => m.t !== "welcome"), `${address} welcomed a malformed peer`);
    }
    await allServe();
  });
}

test("a connection that never says hello is closed at the handshake deadline", async () => {
  for (const address of Object.values(endpoints)) assert.deepEqual(await exchange(address, Buffer.alloc(0)), []);
});

test("after a denied hello nothing more in the same frame is read", async () => {
  const lines = [];
  const write = process.stdout.write;
  process.stdout.write = function (chunk, ...rest) { lines.push(String(chunk)); return write.call(this, chunk, ...rest); };
  try {
    // A hello of another version, then a log line the driver would print if it read on.
    const replies = await exchange(endpoints.driver, frame([{ t: "hello", version: "0.0", nonce: Buffer.alloc(16) },
      { t: "logs", lines: [{ err: false, text: "read-after-denied\n" }] }]));
    assert.deepEqual(replies.map((m) => [m.t, m.code]), [["denied", "version"]]);
  } finally { process.stdout.write = write; }
  assert.ok(!lines.some((l) => l.includes("read-after-denied")));
});

test("a wrong proof is denied, and the proof of one connection is useless on another", async () => {
  const [host, port] = endpoints.transfer.split(":");
  const s = net.connect({ host, port: Number(port) });
  await new Promise((r) => s.once("connect", r));
  const cNonce = Buffer.alloc(16, 7);
  const replies = [];
  let buf = Buffer.alloc(0);
  s.on("data", (d) => { buf = Buffer.concat([buf, d]); replies.push(...decodeFrames(buf)); buf = Buffer.alloc(0); });
  s.write(frame([{ t: "hello", version: "0.2", nonce: cNonce }]));
  await waitFor(() => replies.length >= 1, 3000, "the challenge");
  assert.equal(replies[0].t, "challenge");
  // A proof made for another server nonce (as a replayed one would be).
  s.write(frame([{ t: "proof", proof: proof(token, "client", cNonce, Buffer.alloc(16, 1)) }]));
  await new Promise((r) => s.once("close", r));
  assert.deepEqual(replies.slice(1).map((m) => [m.t, m.code]), [["denied", "auth"]]);
});

test("a connection that passed the handshake and then sends a malformed message is closed alone", async () => {
  for (const address of Object.values(endpoints)) {
    const bad = await connect(address, token);
    const other = await connect(address, token);
    const closed = new Promise((r) => bad.once("close", r));
    bad.socket.write(frame([{ t: 9 }]));
    await closed;
    await assert.rejects(other.request({ t: "stat", id: "no-such-object" }));   // the other connection is fine
    other.close();
  }
  await allServe();
});

test("a worker answers a malformed task push with InvalidRequestError naming the field, and runs tasks after it", async () => {
  const c = await connect(endpoints.worker, token);
  const good = { taskId: "t1", name: "f", jobId: "j", fnId: "x", owner: "o", args: [], numReturns: 1 };
  for (const [task, field] of [[null, /task: expected a map/], [5, /task: expected a map/], [{ ...good, args: 7 }, /task\.args/],
    [{ ...good, owner: { a: 1 } }, /task\.owner/], [{ ...good, numReturns: 1e9 }, /task\.numReturns/], [{ ...good, args: [null] }, /task\.args\[0\]/],
    [{ ...good, actor: "a" }, /task\.actor/]]) {
    await assert.rejects(c.request({ t: "push", task }), (e) => e instanceof InvalidRequestError && field.test(e.message), JSON.stringify(task));
  }
  c.close();
  await allServe();
});

/** A server that speaks the wire protocol badly: how a client meets a hostile or impostor peer. */
async function hostileServer(respond) {
  const received = [];
  const server = net.createServer((s) => {
    s.on("data", (d) => { received.push(d); const out = respond(decodeFrames(d)); if (out) s.write(out); });
    s.on("error", () => {});
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { address: `127.0.0.1:${server.address().port}`, received, close: () => server.close() };
}

test("a client meets a server answering malformed frames with an error, not a crash", async () => {
  for (const bytes of [Buffer.from("0900000081a174a568656c6c6f", "hex"), frame(null), frame([null]), frame([{ t: "challenge" }]),
    Buffer.from([0xff, 0xff, 0xff, 0x7f])]) {
    const srv = await hostileServer(() => bytes);
    await assert.rejects(connect(srv.address, token));
    srv.close();
  }
});

test("a client never sends the token to a peer that cannot prove it holds it", async () => {
  const srv = await hostileServer((msgs) => msgs[0]?.t === "hello"
    ? frame([{ t: "challenge", nonce: Buffer.alloc(16, 2), proof: Buffer.alloc(32, 3) }]) : undefined);
  await assert.rejects(connect(srv.address, token), (e) => e instanceof AuthenticationError && /could not prove/.test(e.message));
  const seen = Buffer.concat(srv.received);
  assert.equal(seen.indexOf(token), -1);
  assert.ok(!decodeFrames(seen).some((m) => m.t === "proof"), "the client answered an impostor's challenge");
  srv.close();
});

test("a client gives up on a server that never answers the hello, at the deadline", async () => {
  const srv = await hostileServer(() => undefined);
  await assert.rejects(connect(srv.address, token), (e) => e instanceof AuthenticationError && /handshake/.test(e.message));
  srv.close();
});

// A seeded fuzzer: random bytes, random msgpack values, and valid frames with bytes flipped, before
// and after the handshake (whole frames only: a partial one is a peer still sending). Bounded: 100
// frames per endpoint and phase.
function mulberry32(a) { return () => { a |= 0; a = (a + 0x6d2b79f5) | 0; let t = Math.imul(a ^ (a >>> 15), 1 | a); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; }
function fuzzFrames(seed, n, { whole = false } = {}) {
  const rnd = mulberry32(seed);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const value = (depth = 0) => {
    const k = Math.floor(rnd() * (depth > 2 ? 6 : 9));
    switch (k) {
      case 0: return null; case 1: return Math.floor(rnd() * 2 ** 32) - 2 ** 31; case 2: return rnd();
      case 3: return pick(["hello", "proof", "push", "reply", "stat", "read", "free", "logs", "getObject", "cancel", ""]);
      case 4: return Buffer.from(Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
      case 5: return rnd() < 0.5;
      case 6: return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      default: {
        const o = {};
        for (const key of ["t", "rid", "re", "id", "nonce", "proof", "version", "task", "lines", "offset", "length", "err", "ok"]) if (rnd() < 0.4) o[key] = value(depth + 1);
        if (rnd() < 0.7) o.t = value(3);
        return o;
      }
    }
  };
  return Array.from({ length: n }, () => {
    const r = rnd();
    const junk = () => Buffer.from(Array.from({ length: Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
    if (r < 0.25) return whole ? frame(junk()) : junk();
    const f = frame(r < 0.6 ? Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => value()) : value());
    // Flipped bits: anywhere before the handshake; after it only in the body, so the frame stays whole.
    if (r > 0.85) for (let i = 0; i < 3; i++) f[(whole ? 4 : 0) + Math.floor(rnd() * (f.length - (whole ? 4 : 0)))] ^= 1 << Math.floor(rnd() * 8);
    return f;
  });
}

test("fuzzed frames before the handshake leave every endpoint serving", async () => {
  for (const [i, address] of Object.values(endpoints).entries()) {
    const frames = fuzzFrames(1000 + i, 100);
    for (let j = 0; j < frames.length; j += 15) {
      // A frame that is a valid prefix leaves the connection waiting for more: the deadline closes it.
      await Promise.all(frames.slice(j, j + 15).map((f) => exchange(address, f)));
    }
  }
  await allServe();
});

test("fuzzed messages after the handshake leave every endpoint serving", async () => {
  for (const [i, address] of Object.values(endpoints).entries()) {
    for (const f of fuzzFrames(2000 + i, 100, { whole: true })) {
      const c = await connect(address, token);
      c.on("error", () => {});
      c.socket.write(f);
      // Closed for the violation, or still open after a harmless message: either way it must answer or close.
      await Promise.race([new Promise((r) => c.once("close", r)), c.request({ t: "stat", id: "no-such-object" }).catch(() => {})]);
      c.close();
    }
  }
  await allServe();
});
