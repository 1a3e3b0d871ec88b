import { before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { remote, get, WorkerCrashedError, TaskError } from "helios";
import { startCluster, clusterTest } from "./helpers.mjs";

let cluster;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-retries-"));
before(async () => { cluster = await startCluster(); });
after(async () => { await cluster.stop(); fs.rmSync(dir, { recursive: true, force: true }); });

/** Counts its attempts in a file; crashes its worker (or throws) until attempt `okAt`. */
const flaky = remote(async (file, okAt, how) => {
  const fs = await import("node:fs");
  const n = (fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) : 0) + 1;
  fs.writeFileSync(file, String(n));
  if (n < okAt) {
    if (how === "exit") process.exit(1);
    throw new RangeError(`attempt ${n} failed`);
  }
  return n;
});
const counter = (name) => path.join(dir, name);
const attempts = (name) => Number(fs.readFileSync(counter(name), "utf8"));

clusterTest("a task whose worker crashes is retried, by default up to 3 times", async () => {
  assert.equal(await get(flaky.remote(counter("a"), 3, "exit")), 3);
});

clusterTest("when the retries are spent the caller gets WorkerCrashedError with the number of attempts", async () => {
  await assert.rejects(get(flaky.options({ maxRetries: 1 }).remote(counter("b"), 5, "exit")),
    (e) => e instanceof WorkerCrashedError && /after 2 attempts/.test(e.message));
  assert.equal(attempts("b"), 2);
});

clusterTest("the default budget is 3 retries: a fourth crash is final", async () => {
  await assert.rejects(get(flaky.remote(counter("h"), 10, "exit")), (e) => e instanceof WorkerCrashedError && /after 4 attempts/.test(e.message));
  assert.equal(attempts("h"), 4);
});

clusterTest("maxRetries: -1 retries for as long as it takes", async () => {
  assert.equal(await get(flaky.options({ maxRetries: -1 }).remote(counter("i"), 7, "exit")), 7);
});

clusterTest("maxRetries: 0 never retries", async () => {
  await assert.rejects(get(flaky.options({ maxRetries: 0 }).remote(counter("c"), 2, "exit")), WorkerCrashedError);
  assert.equal(attempts("c"), 1);
});

clusterTest("application exceptions are not retried unless retryExceptions says so", async () => {
  await assert.rejects(get(flaky.remote(counter("d"), 2, "throw")), TaskError);
  assert.equal(attempts("d"), 1);
  assert.equal(await get(flaky.options({ retryExceptions: true }).remote(counter("e"), 3, "throw")), 3);
});

clusterTest("retryExceptions as a list retries only the named errors", async () => {
  assert.equal(await get(flaky.options({ retryExceptions: ["RangeError"] }).remote(counter("f"), 2, "throw")), 2);
  await assert.rejects(get(flaky.options({ retryExceptions: ["TypeError"] }).remote(counter("g"), 2, "throw")), TaskError);
  assert.equal(attempts("g"), 1);
});

clusterTest("bad retry options are refused at once", () => {
  assert.throws(() => flaky.options({ maxRetries: -2 }), /maxRetries/);
  assert.throws(() => flaky.options({ retryExceptions: "yes" }), /retryExceptions/);
});
