// Compile-time checks of the public API: test/types/api.ts must type-check (its
// `// @ts-expect-error` lines must all be errors), and a wrong call must fail tsc.
// Type-checks against dist/ through the package's self-reference ("helios"), so build first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", ".bin", "tsc");

function runTsc(args) {
  assert.ok(existsSync(join(root, "dist", "src", "index.d.ts")), "dist/ is missing: run `npx tsc -p tsconfig.json` first");
  try {
    const out = execFileSync(tsc, args, { cwd: root, encoding: "utf8", stdio: "pipe" });
    return { status: 0, output: out };
  } catch (e) {
    if (typeof e.status !== "number") throw e;
    return { status: e.status, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

test("the public API rejects wrong types at compile time", () => {
  const { status, output } = runTsc(["-p", "test/types/tsconfig.json"]);
  assert.equal(status, 0, `tsc -p test/types/tsconfig.json failed:\n${output}`);
});

test("tsc fails on a remote call with a wrong argument type and names the argument", () => {
  const file = join("test", "types", `_tmp_wrong_${process.pid}.ts`);
  writeFileSync(join(root, file), [
    'import { remote } from "helios";',
    "const square = remote((x: number) => x * x);",
    'square.remote("3");',
    "",
  ].join("\n"));
  try {
    const { status, output } = runTsc(["--noEmit", "--strict", "--module", "NodeNext", "--moduleResolution", "NodeNext",
      "--target", "ES2022", "--lib", "ES2023", "--types", "node", "--skipLibCheck", file]);
    assert.notEqual(status, 0, `tsc accepted square.remote("3"):\n${output}`);
    assert.match(output, /_tmp_wrong_\d+\.ts\(3,15\): error TS2345: Argument of type 'string' is not assignable to parameter of type 'MaybeRef<number>'/);
  } finally {
    rmSync(join(root, file), { force: true });
  }
});
