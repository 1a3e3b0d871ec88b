import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { remote, get, WorkerCrashedError } from "helios";
import { startCluster, alive, waitFor } from "./helpers.mjs";

function runDriver(how, signal) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["test/fixtures/lifecycle-driver.mjs", how], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let pids = [];
    child.stdout.on("data", (d) => {
      out += d;
      const m = /PIDS (\[.*\])/.exec(out);
      if (m) pids = JSON.parse(m[1]);
      if (signal && out.includes("READY")) child.kill(signal);
    });
    child.stderr.on("data", (d) => { out += d; });
    child.on("exit", (code, sig) => resolve({ code, sig, out, pids }));
  });
}

for (const [how, signal, what] of [
  ["shutdown", undefined, "shutdown()"],
  ["exit", undefined, "a normal exit without shutdown()"],
  ["throw", undefined, "an uncaught exception"],
  ["signal", "SIGINT", "SIGINT"],
  ["signal", "SIGTERM", "SIGTERM"],
  ["signal", "SIGKILL", "SIGKILL of the driver"],
]) {
  test(`${what} leaves no head, agent or worker process`, async () => {
    const r = await runDriver(how, signal);
    assert.equal(r.pids.length >= 4, true, `expected head, agent and workers in ${r.out}`);
    if (how === "throw") assert.match(r.out, /driver crashed on purpose/);
    if (how === "shutdown" || how === "exit") assert.equal(r.code, 0, r.out);
    await waitFor(() => r.pids.every((p) => !alive(p)), 8000, `processes ${r.pids.filter(alive)} to exit`);
  });
}

test("worker output reaches the driver prefixed with the task or actor name, pid and node", async () => {
  const r = await runDriver("shutdown");
  assert.match(r.out, /\(hello pid=\d+ node=n\w+\) hello from task/);
  assert.match(r.out, /\(Greeter\.greet pid=\d+ node=n\w+\) greeting actor/);
});

test.describe("worker death", () => {
  let cluster;
  before(async () => { cluster = await startCluster(); });
  after(() => cluster.stop());

  test("a task whose worker calls process.exit fails with WorkerCrashedError and the worker is replaced", async () => {
    const quit = remote(() => process.exit(3));
    await assert.rejects(get(quit.remote()), WorkerCrashedError);
    const ok = remote((x) => x + 1);
    assert.equal(await get(ok.remote(1)), 2);
  });

  test("a task whose worker is SIGKILLed fails with WorkerCrashedError", async () => {
    const die = remote(() => process.kill(process.pid, "SIGKILL"));
    await assert.rejects(get(die.remote()), WorkerCrashedError);
    await waitFor(async () => (await cluster.agentInfo()).workers.filter((w) => w.state === "idle").length >= 1, 5000, "a replacement worker");
  });
});
