// The hand-written control-plane envelope against protobufjs reading proto/helios.proto.
import { test } from "node:test";
import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { encodeRequest, decodeRequest, encodeReply, decodeReply } from "../dist/src/rpc/envelope.js";

const root = protobuf.loadSync(new URL("../proto/helios.proto", import.meta.url).pathname);
const Request = root.lookupType("helios.Request");
const Reply = root.lookupType("helios.Reply");
const bytes = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff));

test("Request and Reply encode byte for byte as protobufjs does, and decode what it encodes", () => {
  for (const [method, n] of [["registerNode", 0], ["requestLease", 5], ["ünïcode·method", 127], ["x", 128], ["uploadChunk", 300_000]]) {
    const m = { method, body: bytes(n) };
    const ours = encodeRequest(m);
    const theirs = Buffer.from(Request.encode(m).finish());
    assert.ok(ours.equals(theirs), `Request ${method}/${n}`);
    const back = decodeRequest(theirs);
    assert.equal(back.method, method);
    assert.ok(Buffer.from(back.body).equals(m.body));
    const r = { body: bytes(n) };
    assert.ok(encodeReply(r).equals(Buffer.from(Reply.encode(r).finish())), `Reply ${n}`);
    assert.ok(Buffer.from(decodeReply(Buffer.from(Reply.encode(r).finish())).body).equals(r.body));
  }
});

test("unknown fields are skipped and a truncated message is refused", () => {
  const withExtra = Buffer.concat([Buffer.from([0x18, 0x96, 0x01]), encodeRequest({ method: "m", body: Buffer.from([1, 2]) }), Buffer.from([0x25, 1, 2, 3, 4])]);
  assert.deepEqual({ ...decodeRequest(withExtra), body: [...decodeRequest(withExtra).body] }, { method: "m", body: [1, 2] });
  const whole = encodeRequest({ method: "method", body: bytes(50) });
  assert.throws(() => decodeRequest(whole.subarray(0, whole.length - 3)), RangeError);
});
