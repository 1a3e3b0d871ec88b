// The request-body checkers of the control plane (src/rpc/schema.ts), on their own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { array, boolean, bytes, check, either, literal, number, object, optional, record, string, validated, SchemaViolation } from "../dist/src/rpc/schema.js";
import { resources, strategy, jobInfo, errorInfo } from "../dist/src/protocol-schema.js";
import { InvalidRequestError } from "../dist/src/errors.js";

/** The message of the violation `s` finds in `v`. */
function violation(s, v) {
  try { s(v, "body"); } catch (e) {
    assert.ok(e instanceof SchemaViolation, `a SchemaViolation, got ${e}`);
    return e.message;
  }
  assert.fail(`${JSON.stringify(v)} was accepted`);
}

test("a resource amount of the wrong type is named by its path, what was expected and what came", () => {
  assert.equal(violation(object({ resources }), { resources: { CPU: "2" } }), "body.resources.CPU: expected a finite number ≥ 0, got string");
  assert.equal(violation(resources, { CPU: -1 }), "body.CPU: expected a finite number ≥ 0, got number -1");
  assert.equal(violation(resources, { CPU: Infinity }), "body.CPU: expected a finite number ≥ 0, got number Infinity");
  assert.match(violation(resources, { CPU: NaN }), /got number NaN/);
  assert.match(violation(resources, null), /^body: expected an object of at most 256 keys/);
  assert.match(violation(resources, [1]), /got an array of 1/);
  assert.match(violation(resources, { "": 1 }), /keys of 1 to 256 characters/);
});

test("strings are non-empty and bounded unless told otherwise", () => {
  assert.equal(string()("x", "body"), "x");
  assert.match(violation(string(), ""), /expected a non-empty string of at most 1024 characters, got an empty string/);
  assert.match(violation(string({ max: 3 }), "abcd"), /at most 3 characters, got string/);
  assert.match(violation(string(), 7), /got number 7/);
  assert.equal(string({ min: 0 })("", "body"), "");
  assert.match(violation(string({ pattern: /^[a-f]+$/, what: "hex" }), "xyz"), /expected hex/);
});

test("numbers are finite and within their range; integers are whole", () => {
  assert.equal(number({ integer: true, min: 0, max: 10 })(10, "body"), 10);
  assert.match(violation(number({ integer: true, min: 0, max: 10 }), 11), /expected an integer from 0 to 10, got number 11/);
  assert.match(violation(number({ integer: true }), 1.5), /expected an integer, got number 1.5/);
  assert.match(violation(number(), "1"), /expected a finite number, got string/);
  assert.match(violation(boolean(), "true"), /expected a boolean/);
  assert.match(violation(literal("DEFAULT", "SPREAD"), "PACK"), /expected "DEFAULT" or "SPREAD", got string/);
});

test("an object keeps only its declared keys, leaves absent optional ones out, and names a missing one", () => {
  const s = object({ id: string(), soft: optional(boolean()), tags: optional(array(string(), { max: 2 })) });
  assert.deepEqual(s({ id: "a", extra: { deep: 1 }, soft: null }, "body"), { id: "a" });
  assert.deepEqual(s({ id: "a", soft: false, tags: ["x"] }, "body"), { id: "a", soft: false, tags: ["x"] });
  assert.equal(violation(s, {}), "body.id: expected a non-empty string of at most 1024 characters, got nothing");
  assert.match(violation(s, { id: "a", tags: ["x", 3] }), /^body\.tags\[1\]: expected a non-empty string/);
  assert.match(violation(s, { id: "a", tags: ["x", "y", "z"] }), /^body\.tags: expected an array of at most 2 items, got an array of 3/);
  for (const v of [null, undefined, 5, "s", [], new Uint8Array(1), new Map([[1, 2]])]) assert.match(violation(s, v), /^body: expected an object, got /);
});

test("a key named __proto__ stays a plain key of the copy", () => {
  const out = record(number())(JSON.parse('{"__proto__": 1, "CPU": 2}'), "body");
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out), ["__proto__", "CPU"]);
});

test("bytes are Uint8Arrays within their bound", () => {
  assert.equal(bytes({ max: 2 })(Buffer.from([1, 2]), "body").length, 2);
  assert.match(violation(bytes({ max: 2 }), new Uint8Array(3)), /expected bytes \(at most 2\), got 3 bytes/);
  assert.match(violation(bytes(), "abc"), /expected bytes, got string/);
  assert.match(violation(bytes(), [1, 2]), /expected bytes, got an array/);
});

test("either names both alternatives when neither fits, or the deeper failure of the one that nearly did", () => {
  assert.equal(strategy("SPREAD", "body"), "SPREAD");
  assert.deepEqual(strategy({ nodeId: "n1", soft: true, junk: 1 }, "body"), { nodeId: "n1", soft: true });
  assert.match(violation(strategy, 3), /^body: expected "DEFAULT" or "SPREAD" or an object, got number 3/);
  assert.match(violation(strategy, { nodeId: 5 }), /^body\.nodeId: expected a non-empty string/);
  assert.match(violation(either(string(), number()), null), /expected .* or a finite number, got null/);
});

test("protocol shapes: a job and a recursive error record", () => {
  const job = { jobId: "j1", namespace: "ns", driverAddress: "127.0.0.1:1", cwd: "/tmp", execArgv: [] };
  assert.deepEqual(jobInfo({ ...job, unknown: 1 }, "body"), job);
  assert.match(violation(jobInfo, { ...job, jobId: {} }), /^body\.jobId: expected a non-empty string of at most 256 characters, got an object/);
  assert.match(violation(jobInfo, { ...job, package: "../../etc" }), /^body\.package: expected a package hash/);
  const err = { name: "E", message: "m", cause: { name: "C", message: "", cause: { name: 3, message: "x" } } };
  assert.match(violation(errorInfo, err), /^body\.cause\.cause\.name: /);
});

test("check() turns a violation into InvalidRequestError naming the service, the method and the path", () => {
  assert.throws(() => check("Head", "heartbeat", object({ nodeId: string() }), { nodeId: null }), (e) =>
    e instanceof InvalidRequestError && e.name === "InvalidRequestError" &&
    /^INVALID_ARGUMENT: Head\.heartbeat refused its request: body\.nodeId: expected .*, got null\. Tip: /.test(e.message));
});

test("validated() refuses a handler map with a method that has no schema, and checks every body before its handler", async () => {
  assert.throws(() => validated("Svc", { a: object({}) }, { a: () => 1, b: () => 2 }), /methods without a request schema: b/);
  assert.throws(() => validated("Svc", { a: object({}), c: object({}) }, { a: () => 1 }), /schemas without a method: c/);
  const seen = [];
  const h = validated("Svc", { put: object({ key: string() }) }, { put: (r) => { seen.push(r); return r.key; } });
  assert.equal(await h.put({ key: "k", junk: true }), "k");
  assert.deepEqual(seen, [{ key: "k" }]);
  assert.throws(() => h.put({ key: undefined }), (e) => e instanceof InvalidRequestError && /Svc\.put .*body\.key/.test(e.message));
  assert.equal(seen.length, 1, "the handler never ran for the bad body");
});
