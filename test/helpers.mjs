// Test support: a cluster per test file, and checks that nothing is left running.
import { init, shutdown } from "helios";
import { runtime } from "../dist/src/api.js";

/** Start a local cluster; returns a function that stops it and asserts no process was left behind. */
export async function startCluster(options = {}) {
  await init({ numCpus: 2, ...options });
  const rt = runtime();
  return {
    rt,
    agentInfo: () => rt.core.agent.call("info"),
    async stop() {
      const info = await rt.core.agent.call("info");
      const pids = info.workers.map((w) => w.pid);
      await shutdown();
      await waitFor(() => pids.every((p) => !alive(p)), 5000, `worker processes ${pids.filter(alive)} still running after shutdown`);
    },
  };
}

export function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Poll a condition (for external processes, which send no events we can wait on). */
export async function waitFor(cond, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
