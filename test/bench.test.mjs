// The benchmark script keeps working: run it with --quick (tiny counts, one short round) and
// check that it wrote a positive finite figure for every row. It asserts no speed and needs
// no Ray; see bench/run.mjs. The memory-growth row is opt-in (--long) and not run here.
import test from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ROWS = [
  // the workloads of Ray's microbenchmark, under Ray's names
  "single_client_tasks_sync", "single_client_tasks_async", "multi_client_tasks_async",
  "1_1_actor_calls_sync", "1_1_actor_calls_async", "1_1_actor_calls_concurrent",
  "1_n_actor_calls_async", "n_n_actor_calls_async", "1_1_async_actor_calls_sync", "1_1_async_actor_calls_async",
  "single_client_put_calls", "single_client_get_calls", "single_client_put_gigabytes",
  "single_client_tasks_and_get_batch", "single_client_get_object_containing_10k_refs", "single_client_wait_1k_refs",
  // Helios's own rows and the physical baselines
  "init_to_first_result_ms", "idle_worker_rss_mb", "idle_worker_rss_after_load_mb", "pool_map_100k_per_s",
  "raw_socket_pingpong_per_s", "raw_unix_socket_pingpong_per_s", "memcpy_gb_per_s",
];

test("the benchmark runs end to end with a tiny iteration count", { timeout: 170_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-bench-test-"));
  const jsonPath = path.join(dir, "results.json");
  try {
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, ["bench/run.mjs", "--quick", "--json", jsonPath], { cwd: root, timeout: 160_000 },
        (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }));
    });
    assert.equal(code, 0, `bench/run.mjs exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    const report = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
    for (const row of ROWS) {
      const mean = report.rows?.[row]?.mean;
      assert.ok(Number.isFinite(mean) && mean > 0, `row ${row} should have a positive finite mean, got ${mean}`);
      assert.ok(Number.isFinite(report.rows[row].stddev), `row ${row} should have a finite stddev`);
      assert.match(stdout, new RegExp(`^${row}\\s`, "m"), `the table should list ${row}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
