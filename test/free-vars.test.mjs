import test from "node:test";
import assert from "node:assert/strict";
import { freeVariables, topLevelNames, isGlobalName } from "../dist/src/code/free-vars.js";

const free = (fn) => freeVariables(typeof fn === "string" ? fn : fn.toString());

// --- shapes of function source ------------------------------------------------

test("a closure over a local variable names that variable", () => {
  assert.deepEqual(free("x => x * k"), ["k"]);
});

test("an async arrow function with a block body reports what it uses", () => {
  assert.deepEqual(free("async (a, b) => { await a; return b + total }"), ["total"]);
});

test("a named function declaration text does not report its own name", () => {
  assert.deepEqual(free("function f(n) { return n ? f(n - 1) + step : 0 }"), ["step"]);
});

test("an async generator function is parsed", () => {
  assert.deepEqual(free("async function* g() { yield* source }"), ["source"]);
});

test("a class with fields, private names, accessors and a static block reports nothing it declares", () => {
  const src = "class Counter { n = 0; static s = 1; #p = 2; incr(k = 1) { return (this.n += k); } get v() { return this.#p } static { Counter.s = 2 } }";
  assert.deepEqual(free(src), []);
});

test("a class reports names its members use from outside", () => {
  assert.deepEqual(free("class C extends Base { x = init; m() { return helper(this.x) } }"), ["Base", "init", "helper"]);
});

test("an anonymous class is parsed", () => {
  assert.deepEqual(free("class { run() { return dep } }"), ["dep"]);
});

test("a method shorthand reports what it uses", () => {
  assert.deepEqual(free("incr(k) { return k + base }"), ["base"]);
});

test("async, generator, async generator and getter method shorthands are parsed", () => {
  assert.deepEqual(free("async run() { return await a }"), ["a"]);
  assert.deepEqual(free("*gen() { yield b }"), ["b"]);
  assert.deepEqual(free("async *ag() { yield c }"), ["c"]);
  assert.deepEqual(free("get x() { return d }"), ["d"]);
});

test("a computed method name counts as a use", () => {
  assert.deepEqual(free("[computed]() { return 1 }"), ["computed"]);
});

test("real object-literal methods round-trip through toString", () => {
  const obj = { incr(k) { return k + base; }, async *ag() { yield other; } };
  assert.deepEqual(free(obj.incr), ["base"]);
  assert.deepEqual(free(obj.ag), ["other"]);
});

test("unparseable source throws a SyntaxError saying it could not be parsed", () => {
  assert.throws(() => free("this is not ) code"), (err) => err instanceof SyntaxError && /could not be parsed/.test(err.message));
});

// --- what is not free ---------------------------------------------------------

test("arguments, this, super, new.target and import.meta are not free variables", () => {
  assert.deepEqual(free("function f() { return [arguments, this, new.target, import.meta] }"), []);
  assert.deepEqual(free("() => arguments"), []);
  assert.deepEqual(free("class A extends B { m() { return super.m() } }"), ["B"]);
});

test("labels are not variables", () => {
  assert.deepEqual(free("() => { outer: for (;;) { break outer } }"), []);
});

test("JavaScript and Node globals are not reported", () => {
  assert.deepEqual(free("() => [Math.max(1), JSON, console, process, Buffer, setTimeout, undefined, NaN, Infinity, globalThis, fetch, structuredClone]"), []);
});

test("require, module, exports, __dirname and __filename are reported for the caller to judge", () => {
  assert.deepEqual(free("() => [require, module, exports, __dirname, __filename]"), ["require", "module", "exports", "__dirname", "__filename"]);
});

test("the __name helper injected by TypeScript loaders is not reported", () => {
  assert.deepEqual(free('() => __name(function g() {}, "g")'), []);
});

test("parameters shadow outer names", () => {
  assert.deepEqual(free("(k) => k"), []);
});

test("local const, var and let declarations shadow outer names", () => {
  assert.deepEqual(free("() => { const k = 1; return k }"), []);
  assert.deepEqual(free("function f() { var k; return k }"), []);
});

test("a let used before its declaration is still declared, not free", () => {
  assert.deepEqual(free("() => { return k; let k = 1 }"), []);
});

test("catch parameters and for-of bindings are not free", () => {
  assert.deepEqual(free("() => { try {} catch (e) { return e } }"), []);
  assert.deepEqual(free("(xs) => { for (const x of xs) use(x) }"), ["use"]);
});

test("destructured parameters are not free", () => {
  assert.deepEqual(free("({a, b: [c]}) => a + c"), []);
});

test("default parameters may refer to earlier parameters", () => {
  assert.deepEqual(free("(a, b = a * 2) => a + b"), []);
  assert.deepEqual(free("(a = later) => { const later = 1; return a }"), ["later"]);
});

test("class private names are not variables", () => {
  assert.deepEqual(free("class P { #x = 1; static #y; m() { return #x in this ? this.#x : P.#y } }"), []);
});

// --- nesting, order and typeof -------------------------------------------------

test("references inside nested functions count", () => {
  assert.deepEqual(free("() => () => k"), ["k"]);
});

test("references inside nested classes count", () => {
  assert.deepEqual(free("() => class { m() { return k } }"), ["k"]);
});

test("free variables are de-duplicated in order of first appearance", () => {
  assert.deepEqual(free("() => { const f = () => b; return [a, b, f(), a, c] }"), ["b", "a", "c"]);
});

test("a typeof check still counts as a use", () => {
  assert.deepEqual(free("() => typeof k === 'undefined'"), ["k"]);
});

// --- isGlobalName -----------------------------------------------------------------

test("isGlobalName accepts globals and rejects module-scoped names", () => {
  for (const name of ["Math", "console", "undefined", "NaN", "Infinity", "globalThis", "toString"]) assert.equal(isGlobalName(name), true, name);
  for (const name of ["require", "module", "exports", "__dirname", "__filename", "k"]) assert.equal(isGlobalName(name), false, name);
});

// --- topLevelNames ------------------------------------------------------------------

test("top-level names include every kind of import", () => {
  const names = topLevelNames('import def from "a"; import { x, y as z } from "b"; import * as ns from "c";');
  assert.deepEqual([...names].sort(), ["def", "ns", "x", "z"]);
});

test("top-level names include functions, classes and destructured declarations but nothing nested", () => {
  const src = `
    function f() { const inner = 1 }
    class K { m() { let alsoInner } }
    var v; let { a, b: [c, ...rest], d = 1 } = obj; const [e, { g }] = arr;
    { let blockScoped = 1 }
    const arrow = () => { var hidden };
  `;
  assert.deepEqual([...topLevelNames(src)].sort(), ["K", "a", "arrow", "c", "d", "e", "f", "g", "rest", "v"]);
});

test("top-level names include exported declarations", () => {
  const src = "export const a = 1, { b } = o; export function f() {} export default function g() {} export class C {} export { a as alias };";
  assert.deepEqual([...topLevelNames(src)].sort(), ["C", "a", "b", "f", "g"]);
});

test("top-level names allow a hashbang and top-level await", () => {
  assert.deepEqual([...topLevelNames("#!/usr/bin/env node\nconst x = await load();")], ["x"]);
});

test("a CommonJS source falls back to script parsing", () => {
  const src = "const fs = require('fs'); with (fs) {} function helper() {} var n = 010; if (n) return;";
  assert.deepEqual([...topLevelNames(src)].sort(), ["fs", "helper", "n"]);
});

test("an explicit sourceType does not fall back", () => {
  assert.throws(() => topLevelNames("with (o) {}", "module"), SyntaxError);
  assert.deepEqual([...topLevelNames("var x; with (o) {}", "script")], ["x"]);
});

test("sloppy-mode function text from CommonJS code is still parsed", () => {
  assert.deepEqual(free("function f() { var n = 010; return n + m }"), ["m"]);
});
