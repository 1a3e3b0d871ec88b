import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

/** Pids of head/agent daemons whose HELIOS_HOME is a celery example home. */
function celeryDaemons() {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return /head\/main\.js|node-agent\/main\.js/.test(cmd) && fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes("helios-celery-");
    } catch { return false; }
  });
}

test("the Celery-style example calls add(4, 4) by name from a separate client script", () => {
  const out = execFileSync(process.execPath, ["examples/celery/run.mjs"], { encoding: "utf8", timeout: 120_000 });
  assert.match(out, /service 'tasks' is registered/);
  assert.match(out, /^add\(4, 4\) = 8$/m);
  assert.match(out, /^mul\(6, 7\) = 42$/m);
  assert.deepEqual(celeryDaemons(), []);
});
