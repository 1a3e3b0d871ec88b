import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { remote, get } from "helios";
import { startCluster } from "./helpers.mjs";
import { tripled, idOfLength } from "./fixtures/math.mjs";

let cluster;
before(async () => { cluster = await startCluster(); });
after(() => cluster.stop());

test("a self-contained inline arrow in the entry script runs on a worker", async () => {
  const f = remote((a, b) => { const local = a * 2; return local + b; });
  assert.equal(await get(f.remote(3, 4)), 10);
});

test("a function in another module may use an npm import and a local helper", async () => {
  assert.equal(await get(tripled.remote(5)), 15);
  const id = await get(idOfLength.remote(12));
  assert.match(id, /^[abc]{12}$/);
});

test("a closure over a local variable in the entry script is rejected at definition, naming it and the fix", () => {
  const factor = 3;
  assert.throws(() => remote((x) => x * factor), (e) =>
    e instanceof TypeError && /'factor'/.test(e.message) && /pass it as an argument/.test(e.message));
});

test("a TypeScript module runs on workers under the driver's loader (tsx)", () => {
  const out = execFileSync("node_modules/.bin/tsx", ["test/fixtures/ts-driver.ts"], { encoding: "utf8", timeout: 60_000 });
  assert.match(out, /length=5/);
});
