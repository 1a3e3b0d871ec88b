// Static analysis of function source text. remote() calls freeVariables() on a
// user function at definition time and compares the result with
// topLevelNames() of the entry script, so a closure over an entry-script local
// (which a worker, importing the function's module afresh, could not see) is
// rejected with a clear error instead of failing later with a ReferenceError.
import type { Options, Program } from "acorn";
import { createRequire } from "node:module";

// Loaded on first use: worker processes rarely need a parser, and they should start fast.
const require = createRequire(import.meta.url);
let lib: { parse: typeof import("acorn").parse; analyze: typeof import("eslint-scope").analyze } | undefined;
const parse = (text: string, options: Options): Program => (lib ??= load()).parse(text, options) as Program;
const analyze: typeof import("eslint-scope").analyze = (ast, options) => (lib ??= load()).analyze(ast, options);
function load() { return { parse: require("acorn").parse, analyze: require("eslint-scope").analyze }; }
/** Load (and warm) the parser before the first remote(): init() does, while its cluster starts. */
export function preloadAnalysis(): void { freeVariables("(a) => a + 1"); }

const ECMA = 2022; // eslint-scope: class fields, private names, static blocks

/** Globals present in every Node worker, snapshotted before user code runs. */
const GLOBALS: ReadonlySet<string> = (() => {
  const names = new Set(["undefined", "NaN", "Infinity", "globalThis"]);
  for (let o: object | null = globalThis; o; o = Object.getPrototypeOf(o)) {
    for (const n of Object.getOwnPropertyNames(o)) names.add(n);
  }
  // Module-scoped in Node (and absent from workers' globalThis): the caller decides.
  for (const n of ["require", "module", "exports", "__dirname", "__filename"]) names.delete(n);
  return names;
})();

/** Never free: `arguments` is implicit in functions; `__name` is injected by esbuild/tsx transpilation. */
const IMPLICIT = new Set(["arguments", "__name"]);

/** True when `name` is a global available in every Node worker (a property of globalThis or a standard global). */
export function isGlobalName(name: string): boolean {
  return GLOBALS.has(name);
}

function tryParse(text: string, options: Options): Program | undefined {
  try {
    return parse(text, options);
  } catch {
    return undefined;
  }
}

/** Names that a function's or class's source text uses but does not declare, excluding JavaScript/Node globals. e.g. freeVariables("x => x * k") → ["k"] */
export function freeVariables(source: string): string[] {
  let ast: Program | undefined;
  // Function/arrow/class text parses as a parenthesized expression; an object-literal
  // method (`incr(k) {...}`) only inside an object literal. Strict (module) first,
  // then sloppy script for functions defined in CommonJS code.
  for (const text of [`(${source})`, `({${source}})`]) {
    for (const sourceType of ["module", "script"] as const) {
      ast ??= tryParse(text, { ecmaVersion: "latest", sourceType, ranges: true, allowImportExportEverywhere: true });
    }
  }
  if (!ast) throw new SyntaxError(`freeVariables: the function source could not be parsed: ${source.slice(0, 80)}`);

  const refs = analyze(ast, { ecmaVersion: ECMA, sourceType: "module" }).globalScope.through;
  const names = new Set<string>();
  for (const ref of [...refs].sort((a, b) => a.identifier.range[0] - b.identifier.range[0])) {
    const name = ref.identifier.name;
    if (!IMPLICIT.has(name) && !GLOBALS.has(name)) names.add(name);
  }
  return [...names];
}

/** Names declared at the top level of an ES module or CommonJS source: imports (default, named, namespace), function/class declarations, var/let/const (including destructuring patterns). */
export function topLevelNames(moduleSource: string, sourceType?: "module" | "script"): Set<string> {
  const options = (type: "module" | "script"): Options => ({
    ecmaVersion: "latest",
    sourceType: type,
    ranges: true,
    allowHashBang: true,
    allowReturnOutsideFunction: type === "script", // CommonJS bodies may `return`
  });
  let type = sourceType ?? "module";
  let ast: Program;
  try {
    ast = parse(moduleSource, options(type));
  } catch (err) {
    if (sourceType) throw err;
    type = "script";
    ast = parse(moduleSource, options(type));
  }
  // The module scope (or, for scripts, the global scope) holds exactly the
  // top-level bindings: imports, functions, classes, var/let/const incl. patterns.
  const global = analyze(ast, { ecmaVersion: ECMA, sourceType: type }).globalScope;
  const scope = type === "module" ? global.childScopes.find((s) => s.type === "module") ?? global : global;
  return new Set(scope.variables.map((v) => v.name));
}
