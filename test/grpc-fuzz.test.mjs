// A seeded fuzzer of every Head and NodeAgent method: random and mutated bodies, with the token and
// without it. Every call is answered (a typed error or a result), and afterwards both daemons still
// serve and work still runs. Bounded: 12 bodies per method with the token, 3 without.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { get, remote } from "helios";
import { RpcClient } from "../dist/src/rpc/grpc.js";
import { headRequests } from "../dist/head/requests.js";
import { agentRequests } from "../dist/node-agent/requests.js";
import { startCluster } from "./helpers.mjs";

let cluster, config;
before(async () => { cluster = await startCluster({ numCpus: 1 }); config = cluster.rt.core.config; });
after(() => cluster.stop());

function mulberry32(a) { return () => { a |= 0; a = (a + 0x6d2b79f5) | 0; let t = Math.imul(a ^ (a >>> 15), 1 | a); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; }
const KEYS = ["nodeId", "jobId", "actorId", "workerId", "resources", "available", "since", "waitMs", "name", "namespace", "key", "value",
  "hash", "offset", "length", "bytes", "id", "from", "leaseId", "owner", "strategy", "spec", "death", "CPU", "state", "methods", "__proto__"];

function body(rnd, depth = 0) {
  const k = Math.floor(rnd() * (depth > 2 ? 7 : 10));
  switch (k) {
    case 0: return null;
    case 1: return Math.floor(rnd() * 2 ** 33) - 2 ** 32;
    case 2: return [NaN, Infinity, -0, -1, 0.5, 1e308][Math.floor(rnd() * 6)];
    case 3: return ["", "x", "../../etc/passwd", "a".repeat(3000), "n1", "DEAD", "\u0000"][Math.floor(rnd() * 7)];
    case 4: return new Uint8Array(Math.floor(rnd() * 16));
    case 5: return rnd() < 0.5;
    case 6: return undefined;
    case 7: return Array.from({ length: Math.floor(rnd() * 4) }, () => body(rnd, depth + 1));
    default: {
      const o = {};
      // Own keys, "__proto__" included (an assignment would set the prototype instead).
      for (const key of KEYS) if (rnd() < 0.25) Object.defineProperty(o, key, { value: body(rnd, depth + 1), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

test("random bodies to every method get an answer, and the daemons keep serving", async () => {
  const rnd = mulberry32(42);
  for (const [service, address, methods] of [["Head", config.headAddress, headRequests], ["NodeAgent", config.agentAddress, agentRequests]]) {
    const withToken = new RpcClient(address, service, config.token);
    const without = new RpcClient(address, service, "");
    for (const method of Object.keys(methods)) {
      const calls = [];
      // A long poll (watchNodes) may wait for its deadline: every call has one.
      for (let i = 0; i < 12; i++) calls.push(withToken.call(method, body(rnd), 3000).then(() => "ok", (e) => e.name));
      for (let i = 0; i < 3; i++) calls.push(without.call(method, body(rnd), 3000).then(() => "ok", (e) => e.name));
      const results = await Promise.all(calls);
      assert.ok(results.slice(12).every((r) => r === "AuthenticationError"), `${service}.${method} without the token: ${results.slice(12)}`);
      assert.ok(results.every((r) => typeof r === "string"), `${service}.${method}`);
    }
    withToken.close();
    without.close();
  }
  const head = new RpcClient(config.headAddress, "Head", config.token);
  const { nodeId } = await cluster.agentInfo();
  assert.equal((await head.call("listNodes")).find((n) => n.nodeId === nodeId)?.state, "ALIVE");
  head.close();
  assert.equal((await cluster.agentInfo()).total.CPU, 1);
  assert.equal(await get(remote((x) => x + 1).remote(1)), 2);
});
