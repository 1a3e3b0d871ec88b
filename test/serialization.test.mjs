// User values <-> bytes (src/serialization.ts): the scalar fast path against msgpackr, binary
// values inside user values, and bytes in the runtime's own wire messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Packr } from "msgpackr";
import { serialize, deserialize, concat } from "../dist/src/serialization.js";
import { Connection } from "../dist/src/rpc/wire.js";

const msgpackr = new Packr({ useRecords: false, moreTypes: true, encodeUndefinedAsNil: false });
const roundTrip = (v) => deserialize(concat(serialize(v)));

const scalars = [0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -32, -33, -128, -129, -32768, -32769,
  -(2 ** 31), -(2 ** 31) - 1, 0.5, -0.25, NaN, Infinity, -Infinity, 1e300, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
  true, false, null, "", "a", "x".repeat(31), "x".repeat(32), "x".repeat(255), "x".repeat(256), "x".repeat(1024), "x".repeat(1025),
  "é".repeat(20), "日本語", "😀", "lone \ud800 surrogate", "a\udc00b"];

test("a scalar is written in the bytes msgpackr writes, and reads back as msgpackr reads it", () => {
  for (const v of scalars) {
    const bytes = concat(serialize(v));
    assert.equal(bytes.readUInt32LE(4), bytes.length - 16, `body length of ${JSON.stringify(v)}`);
    assert.ok(bytes.subarray(16).equals(msgpackr.pack(v)), `bytes of ${JSON.stringify(v)?.slice(0, 40)}`);
    assert.ok(Object.is(deserialize(bytes), msgpackr.unpack(msgpackr.pack(v))), `value of ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  assert.equal(roundTrip(undefined), undefined);
  assert.equal(roundTrip(12345678901234567890n), 12345678901234567890n);
});

test("values msgpackr wrote for scalars and for containers of them read back alike", () => {
  for (const v of [7, -7, 300, 1.5, "hi", "x".repeat(300), true, null]) {
    const body = msgpackr.pack(v);
    const head = Buffer.alloc(16);
    head.writeUInt32LE(0x31564c48, 0);
    head.writeUInt32LE(body.length, 4);
    assert.ok(Object.is(deserialize(Buffer.concat([head, body])), v));
  }
  assert.deepEqual(roundTrip([1, "a", null, { b: 2.5 }]), [1, "a", null, { b: 2.5 }]);
  assert.deepEqual(roundTrip({ n: 300, s: "é", t: true }), { n: 300, s: "é", t: true });
});

test("binary values keep their type, bytes and alignment, small and out of band", () => {
  for (const n of [0, 3, 1000, 70_000]) {
    const f = Float64Array.from({ length: n }, (_, i) => i / 3);
    const back = roundTrip({ f, b: Buffer.from("abc"), u: new Uint8Array([1, 2, 3]), ab: new Uint16Array([9, 8]).buffer, dv: new DataView(new ArrayBuffer(4)) });
    assert.ok(back.f instanceof Float64Array && back.f.length === n && (n === 0 || back.f[n - 1] === (n - 1) / 3));
    assert.equal(back.f.byteOffset % 8, 0);
    assert.ok(Buffer.isBuffer(back.b) && back.b.toString() === "abc");
    assert.ok(back.u instanceof Uint8Array && !Buffer.isBuffer(back.u) && back.u[2] === 3);
    assert.ok(back.ab instanceof ArrayBuffer && new Uint16Array(back.ab)[1] === 8);
    assert.ok(back.dv instanceof DataView && back.dv.byteLength === 4);
  }
  // A value read back is its own copy: changing it leaves the serialized bytes as they were.
  const bytes = concat(serialize(new Uint8Array([5, 6])));
  const first = deserialize(bytes);
  first[0] = 0;
  assert.equal(deserialize(bytes)[0], 5);
});

test("bytes in a wire message arrive as bytes (msgpack bin), and a serialized value inside one reads back", async () => {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise((r) => server.once("connection", r));
  const socket = net.connect(server.address().port, "127.0.0.1");
  const a = new Connection(socket);
  const b = new Connection(await accepted);
  b.onRequest = (msg) => ({ isBytes: msg.raw instanceof Uint8Array, n: msg.raw.length, value: deserialize(msg.value.v), echo: msg.value });
  try {
    const reply = await a.request({ t: "x", raw: Buffer.from([1, 2, 3]), value: { v: concat(serialize({ k: [1, "two"] })) } });
    assert.deepEqual({ isBytes: reply.isBytes, n: reply.n, value: reply.value }, { isBytes: true, n: 3, value: { k: [1, "two"] } });
    assert.deepEqual(deserialize(reply.echo.v), { k: [1, "two"] });
  } finally {
    a.close();
    b.close();
    server.close();
  }
});
