// The benchmark script keeps working: run it with --quick (one round, tiny counts) and
// check that it wrote a figure for every row. It asserts no speed; see bench/run.mjs.
import test from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ROWS = ["tasks_sync_per_s", "tasks_async_per_s", "actor_calls_sync_per_s", "actor_calls_async_per_s",
  "async_actor_calls_async_per_s", "put_gb_per_s", "get_gb_per_s", "put_small_per_s"];

test("the benchmark runs end to end with a tiny iteration count", { timeout: 130_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "helios-bench-test-"));
  const jsonPath = path.join(dir, "results.json");
  try {
    const { code, stdout, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, ["bench/run.mjs", "--quick", "--json", jsonPath], { cwd: root, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }));
    });
    assert.equal(code, 0, `bench/run.mjs exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    const report = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
    for (const row of ROWS) {
      const mean = report.rows?.[row]?.mean;
      assert.ok(Number.isFinite(mean) && mean > 0, `row ${row} should have a positive finite mean, got ${mean}`);
      assert.match(stdout, new RegExp(`^${row}\\s`, "m"), `the table should list ${row}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
