// Values come back as structuredClone would return them (src/values.ts, src/serialization.ts):
// unit tests of serialize/deserialize against structuredClone, where it accepts the value, and
// a few of the same values through a real cluster (put/get, a task's argument and return).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { remote, get, put } from "helios";
import { serialize, deserialize, concat, readParts } from "../dist/src/serialization.js";
import { SerializationError } from "../dist/src/errors.js";
import { startCluster, clusterTest } from "./helpers.mjs";

const roundTrip = (v) => deserialize(concat(serialize(v)));
/** Both copies: ours and structuredClone's. */
const both = (v) => [roundTrip(v), structuredClone(v)];

describe("values round-trip as structuredClone returns them", () => {
  test("-0 and NaN stay -0 and NaN, alone and nested", () => {
    assert.ok(Object.is(roundTrip(-0), -0));
    assert.ok(Number.isNaN(roundTrip(NaN)));
    const [ours, theirs] = both({ z: -0, a: [-0, 0, NaN], m: new Map([[-0, -0]]) });
    assert.ok(Object.is(ours.z, -0) && Object.is(ours.a[0], -0) && Object.is(ours.a[1], 0) && Number.isNaN(ours.a[2]));
    assert.ok(Object.is(ours.m.get(0), theirs.m.get(0)));
  });

  test("holes in an array stay holes, and undefined stays undefined", () => {
    const v = [1, , 3, undefined, , ];   // eslint-disable-line no-sparse-arrays
    const [ours, theirs] = both(v);
    assert.equal(ours.length, 5);
    for (let i = 0; i < 5; i++) assert.equal(i in ours, i in theirs, `index ${i}`);
    assert.deepEqual(ours, theirs);
    const long = new Array(3000).fill(7);
    delete long[2000];
    assert.ok(!(2000 in roundTrip(long)) && 1999 in roundTrip(long));
  });

  test("an array keeps its other properties, short or long", () => {
    for (const n of [0, 3, 5000]) {
      const v = Array.from({ length: n }, (_, i) => i);
      v.label = "x";
      v.meta = { n };
      const [ours, theirs] = both(v);
      assert.deepEqual(ours, theirs);
      assert.equal(ours.label, "x");
      assert.deepEqual(ours.meta, { n });
      assert.equal(ours.length, n);
    }
  });

  test("an own __proto__ key comes back as an own key and never sets the prototype", () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const defined = Object.defineProperty({}, "__proto__", { value: [1], enumerable: true, writable: true, configurable: true });
    const arr = Object.defineProperty([1], "__proto__", { value: "p", enumerable: true, writable: true, configurable: true });
    for (const v of [parsed, defined, { nested: parsed }, arr]) {
      const [ours, theirs] = both(v);
      assert.deepEqual(ours, theirs);
    }
    const back = roundTrip(parsed);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.ok(Object.hasOwn(back, "__proto__"));
    assert.deepEqual(back.__proto__, { polluted: true });
    assert.equal(back.polluted, undefined);
    assert.equal({}.polluted, undefined);
    assert.equal(roundTrip(arr).__proto__, "p");
  });

  test("an object with a null prototype comes back with a null prototype and its keys", () => {
    const v = Object.create(null);
    v.a = 1;
    v.__proto__ = "own";   // no inherited setter: an own key
    const back = roundTrip({ v });
    assert.equal(Object.getPrototypeOf(back.v), null);
    assert.deepEqual(Object.keys(back.v), ["a", "__proto__"]);
    assert.equal(back.v.__proto__, "own");
  });

  test("an object met twice comes back as one object, in plain objects, arrays, maps and sets", () => {
    const x = { k: [1] };
    const d = new Date(5);
    const f = new Float64Array(4);
    const [ours, theirs] = both({ a: x, b: x, list: [x, x], m: new Map([[x, x]]), s: new Set([x]), d1: d, d2: d, f1: f, f2: f });
    assert.deepEqual(ours, theirs);
    assert.equal(ours.a, ours.b);
    assert.equal(ours.list[0], ours.a);
    assert.equal(ours.list[1], ours.a);
    assert.equal(ours.m.get(ours.a), ours.a);
    assert.ok(ours.s.has(ours.a));
    assert.equal(ours.d1, ours.d2);
    assert.equal(ours.f1, ours.f2);
    assert.notEqual(roundTrip({ a: { k: 1 }, b: { k: 1 } }).a, roundTrip({ a: { k: 1 }, b: { k: 1 } }).b);
  });

  test("cycles come back as cycles, through objects, arrays, maps, sets and errors", () => {
    const o = { name: "o" };
    o.self = o;
    o.list = [o];
    o.map = new Map([["back", o]]);
    o.map.set(o.map, o.list);
    o.set = new Set([o]);
    o.error = new Error("e", { cause: o });
    const [ours, theirs] = both(o);
    assert.deepEqual(ours, theirs);
    assert.equal(ours.self, ours);
    assert.equal(ours.list[0], ours);
    assert.equal(ours.map.get("back"), ours);
    assert.equal(ours.map.get(ours.map), ours.list);
    assert.ok(ours.set.has(ours));
    assert.equal(ours.error.cause, ours);
    const a = [];
    a.push(a);
    const back = roundTrip(a);
    assert.equal(back[0], back);
  });

  test("built-in error classes keep their class, message, stack, cause and fields", () => {
    for (const K of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
      const e = new K("went wrong", { cause: { why: 1 } });
      e.code = "E_WRONG";
      e.detail = { n: [1, 2] };
      const back = roundTrip(e);
      assert.equal(Object.getPrototypeOf(back), K.prototype, K.name);
      assert.equal(back.name, K.name);
      assert.equal(back.message, "went wrong");
      assert.equal(back.stack, e.stack);
      assert.deepEqual(back.cause, { why: 1 });
      assert.equal(back.code, "E_WRONG");
      assert.deepEqual(back.detail, { n: [1, 2] });
      assert.equal(structuredClone(e).constructor, K);
    }
    const agg = new AggregateError([new TypeError("t"), 5], "several");
    const back = roundTrip(agg);
    assert.ok(back instanceof AggregateError);
    assert.equal(back.message, "several");
    assert.ok(back.errors[0] instanceof TypeError && back.errors[0].message === "t" && back.errors[1] === 5);
    assert.ok(!Object.keys(back).includes("errors") && !Object.keys(back).includes("cause"));
  });

  test("an error of a class of the user's comes back as its built-in base, with its name", () => {
    class NotFound extends RangeError { constructor(m) { super(m); this.name = "NotFound"; this.status = 404; } }
    class Quiet extends TypeError {}
    Quiet.prototype.name = "Quiet";
    const back = roundTrip({ a: new NotFound("no such thing"), b: new Quiet("shh"), c: new Error() });
    assert.ok(back.a instanceof RangeError);
    assert.equal(back.a.name, "NotFound");
    assert.equal(back.a.status, 404);
    assert.ok(back.b instanceof TypeError && back.b.name === "Quiet" && !Object.keys(back.b).includes("name"));
    assert.ok(!Object.hasOwn(back.c, "message") && back.c.message === "");
  });

  test("a RegExp keeps its source, flags and lastIndex; Dates keep their time, invalid ones included", () => {
    const r = /a(b+)/gimsuy;
    r.lastIndex = 3;
    const back = roundTrip({ r, d: new Date(1_700_000_000_123), bad: new Date(NaN) });
    assert.equal(back.r.source, r.source);
    assert.equal(back.r.flags, r.flags);
    assert.equal(back.r.lastIndex, 3);
    assert.equal(back.d.getTime(), 1_700_000_000_123);
    assert.ok(back.bad instanceof Date && Number.isNaN(back.bad.getTime()));
  });

  test("Maps and Sets keep key types, object keys and order; BigInts keep every size", () => {
    const key = { id: 1 };
    const v = new Map([[1, "num"], ["1", "str"], [key, "obj"], [2n, new Set([1, "1", key, 3n])]]);
    const [ours, theirs] = both(v);
    assert.deepEqual(ours, theirs);
    assert.deepEqual([...ours.keys()].map((k) => typeof k), ["number", "string", "object", "bigint"]);
    for (const b of [0n, 5n, -5n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 200n, -(2n ** 200n)]) {
      assert.equal(roundTrip(b), b);
      assert.equal(roundTrip([b])[0], b);
    }
  });

  test("binary values of every kind keep their type and bytes, and own their buffer", () => {
    const kinds = [Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
      Float32Array, Float64Array, BigInt64Array, BigUint64Array];
    for (const n of [3, 10_000]) {   // in band, and out of band
      for (const K of kinds) {
        const a = new K(n);
        a[n - 1] = K.name.startsWith("Big") ? 7n : 7;
        const [back, theirs] = both({ a, pad: "x" });
        assert.equal(Object.getPrototypeOf(back.a), K.prototype, K.name);
        assert.deepEqual(back.a, theirs.a);
        assert.equal(back.a.byteOffset, 0, `${K.name} of ${n}: a view at offset 0`);
        assert.equal(back.a.buffer.byteLength, a.byteLength, `${K.name} of ${n}: its buffer holds only its bytes`);
      }
    }
    const ab = new ArrayBuffer(20_000);
    new Uint8Array(ab)[19_999] = 9;
    const back = roundTrip({ dv: new DataView(ab, 10, 20), ab, buf: Buffer.alloc(20_000, 1), sub: new Uint8Array(ab, 4, 4) });
    assert.ok(back.dv instanceof DataView && back.dv.byteLength === 20);
    assert.ok(back.ab instanceof ArrayBuffer && back.ab.byteLength === 20_000 && new Uint8Array(back.ab)[19_999] === 9);
    assert.ok(Buffer.isBuffer(back.buf) && back.buf.length === 20_000);
    assert.ok(back.sub instanceof Uint8Array && back.sub.length === 4 && back.sub.buffer.byteLength === 4);
  });

  test("a value read in parts uses each large buffer as its typed array's own, with no copy", () => {
    const bytes = concat(serialize({ a: new Float64Array(10_000).fill(2), b: new Uint8Array(70_000).fill(3), s: "x" }));
    const parts = readParts(bytes.length, (into, at) => into.set(bytes.subarray(at, at + into.length)));
    assert.equal(parts.length, 3);
    const back = deserialize(parts);
    assert.equal(back.a.buffer, parts[1].buffer);
    assert.equal(back.b.buffer, parts[2].buffer);
    assert.ok(back.a[9_999] === 2 && back.b[69_999] === 3 && back.s === "x");
    assert.deepEqual(deserialize(readParts(17, (into, at) => into.set(concat(serialize(7)).subarray(at, at + into.length)))), 7);
  });

  test("a subclass of a typed array arrives as its built-in class, as structuredClone makes it", () => {
    class Pixels extends Uint8Array {}
    const back = roundTrip({ p: new Pixels([1, 2, 3]) });
    assert.equal(Object.getPrototypeOf(back.p), Uint8Array.prototype);
    assert.deepEqual([...back.p], [1, 2, 3]);
    assert.equal(Object.getPrototypeOf(structuredClone(new Pixels(1))), Uint8Array.prototype);
  });

  test("boxed primitives stay boxed", () => {
    const v = [new Number(-0), new String("s"), new Boolean(false), Object(5n)];
    const [ours, theirs] = both(v);
    assert.deepEqual(ours, theirs);
    assert.ok(Object.is(ours[0].valueOf(), -0));
    assert.equal(typeof ours[1], "object");
  });
});

describe("user data is never read as an internal value", () => {
  test("objects shaped like the old tags come back as the plain objects they are", () => {
    const shapes = [{ __helios$: "map", d: [[1, 2]] }, { __helios$: "ref", d: null }, { __helios$: "actor", d: ["x"] },
      { __helios$: "set", d: [] }, { __helios$: "map" }];
    for (const v of shapes) {
      assert.deepEqual(roundTrip(v), v);
      assert.deepEqual(roundTrip([v]), [v]);
      assert.deepEqual(roundTrip(new Map([["k", v]])).get("k"), v);
    }
  });
});

describe("what structuredClone rejects is rejected at the call, naming its path", () => {
  test("functions, symbols and class instances throw SerializationError with the path", () => {
    class Point { constructor() { this.x = 1; } }
    const cases = [[{ a: [1, () => 1] }, "value.a[1]"], [{ s: Symbol("s") }, "value.s"], [new Map([["k", { p: new Point() }]]), "value.get(k).p"]];
    for (const [v, path] of cases) {
      assert.throws(() => serialize(v), (e) => e instanceof SerializationError && e.path === path, path);
    }
  });
});

describe("through a cluster", () => {
  let cluster;
  before(async () => { cluster = await startCluster(); });
  after(() => cluster.stop());

  const value = () => {
    const shared = { n: 1 };
    const v = { a: shared, b: shared, z: -0, holes: [1, , 3], err: Object.assign(new RangeError("r"), { code: "E_R" }), // eslint-disable-line no-sparse-arrays
      forged: { __helios$: "map", d: [[1, 2]] }, big: new Float64Array(50_000).fill(1.5) };
    v.self = v;
    return v;
  };
  const check = (back) => {
    assert.equal(back.a, back.b);
    assert.equal(back.self, back);
    assert.ok(Object.is(back.z, -0));
    assert.ok(!(1 in back.holes));
    assert.ok(back.err instanceof RangeError && back.err.code === "E_R");
    assert.deepEqual(back.forged, { __helios$: "map", d: [[1, 2]] });
    assert.ok(back.big instanceof Float64Array && back.big[49_999] === 1.5 && back.big.buffer.byteLength === 400_000);
  };

  clusterTest("put and get keep the value's shape", async () => {
    check(await get(put(value())));
  });

  clusterTest("a task gets the value as its argument and returns it whole", async () => {
    const echo = remote((v) => {
      if (v.self !== v || v.a !== v.b) throw new Error("the task saw a different shape");
      return v;
    });
    check(await get(echo.remote(value())));
  });

  clusterTest("a task given a subclass of Uint8Array gets a Uint8Array", async () => {
    const kind = remote((a) => `${Object.getPrototypeOf(a) === Uint8Array.prototype} ${a.length}`);
    class Pixels extends Uint8Array {}
    assert.equal(await get(kind.remote(new Pixels(3))), "true 3");
  });
});
