// How helios/util runs a *plain* function on a worker (Pool, Process). remote() needs its
// definition at a module's top level; a pool takes any function, so we describe it here:
//  - self-contained (no free variables): its source travels and the worker rebuilds it;
//  - otherwise it must be exported by a module: we find that module by walking the static
//    imports of the module that called the pool (breadth first, from the caller outwards),
//    and the worker imports the module by path and takes the export.
// One remote function (`runChunk`, below) applies the described function to a chunk of items.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { remote, isHeliosError, type TaskError, type RemoteFunction } from "../index.js";
import { callerModule, freeVariables } from "../internal.js";

/** What a worker needs to find a plain function: its source, or the module and export path that hold it. */
export interface FnSpec {
  key: string;
  name: string;
  source?: string;
  /** Absolute path of the module exporting the function, and its path relative to the driver's cwd. */
  file?: string;
  relative?: string;
  exportPath?: string[];
}

/** A plain function or a RemoteFunction, as the pool and Process accept them. */
export type Target<A extends unknown[], R> = ((...args: A) => R) | RemoteFunction<(...args: A) => R>;

/** A TaskError, from this copy of Helios or another one (a shipped project may bring its own). `if (isTaskError(e)) e.originalName` */
export function isTaskError(e: unknown): e is TaskError {
  return isHeliosError(e) && e.name === "TaskError";
}

/** True for what remote() returned (submit with `.remote()` rather than wrapping it). `isRemoteFunction(remote(f)) // true` */
export function isRemoteFunction(f: unknown): f is RemoteFunction<(...args: any[]) => any> {
  return typeof f === "function" && typeof (f as any).remote === "function" && typeof (f as any).options === "function";
}

const specs = new WeakMap<Function, Promise<FnSpec>>();
const MAX_MODULES = 200;
const MAX_DEPTH = 4;
const IMPORT_PATIENCE_MS = 2000;

/**
 * Describe `fn` for a worker; call it synchronously from the public method (it reads the caller from the stack).
 * `const spec = await describeFunction(square, "Pool.map")`
 */
export function describeFunction(fn: Function, api: string): Promise<FnSpec> {
  if (typeof fn !== "function") return Promise.reject(new TypeError(`${api}() takes a function, got ${fn === null ? "null" : typeof fn}`));
  const known = specs.get(fn);
  if (known) return known;
  const from = callerModule();                       // must run before any await: the stack is still the caller's
  const spec = build(fn, api, from);
  specs.set(fn, spec);
  spec.catch(() => specs.delete(fn));
  return spec;
}

async function build(fn: Function, api: string, from: string | undefined): Promise<FnSpec> {
  const source = Function.prototype.toString.call(fn);
  const name = fn.name || "anonymous";
  if (/^class[\s{]/.test(source)) throw new TypeError(`${api}() takes a function, got the class ${name}. Tip: use an ActorPool for actors.`);
  if (/\{\s*\[native code\]\s*\}$/.test(source)) throw new TypeError(`${api}(): ${name} is a native or bound function; pass a plain function.`);
  const free = freeVariables(source);
  if (free.length === 0) return { key: hash("src\0" + source), name, source };
  const unsettled: string[] = [];
  const found = await findExport(fn, from, unsettled);
  if (found) {
    const rel = path.relative(process.cwd(), found.file);
    return { key: hash(`mod\0${found.file}\0${found.exportPath.join(".")}`), name, file: found.file,
      relative: rel.startsWith("..") || path.isAbsolute(rel) ? undefined : rel, exportPath: found.exportPath };
  }
  const list = free.map((v) => `'${v}'`).join(", ");
  throw new TypeError(`${api}(): the function '${name}' uses ${list} from the scope around it, and no module imported by ` +
    `${from ?? "the caller"} exports it, so a worker could not rebuild it. Fix: pass the values as arguments, define them ` +
    `inside the function, or export the function from a module (whose imports and top-level helpers workers can use) ` +
    `and import it where you call ${api}().` + (unsettled.length ? ` (${unsettled.join(", ")} had not finished loading, so ` +
    `its exports could not be searched: call ${api}() after the module's top-level code, not from its top-level await.)` : ""));
}

function entryScript(): string | undefined {
  return process.argv[1] ? realpath(path.resolve(process.argv[1])) : undefined;
}

/** Breadth-first over static imports from `from`: the first module whose exports hold `fn`. */
async function findExport(fn: Function, from: string | undefined, unsettled: string[]): Promise<{ file: string; exportPath: string[] } | undefined> {
  if (!from) return undefined;
  const entry = entryScript();
  const queue: Array<[string, number]> = [[from, 0]];
  const seen = new Set<string>();
  while (queue.length && seen.size < MAX_MODULES) {
    const [file, depth] = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (file !== entry) {   // importing the entry script on a worker would run the whole script again
      const ns = await importSettled(file);
      if (ns === null) unsettled.push(file);
      const hit = ns && searchNamespace(ns, fn);
      if (hit) return { file, exportPath: hit };
    }
    if (depth < MAX_DEPTH && !file.includes(`${path.sep}node_modules${path.sep}`)) {
      for (const dep of staticImports(file)) if (!seen.has(dep)) queue.push([dep, depth + 1]);
    }
  }
  return undefined;
}

/**
 * The namespace of an already loaded module: undefined if it fails to load, null if it does not
 * settle. A module still evaluating (whose top-level await is this very pool call) never would:
 * give up on it after a while instead of hanging.
 */
async function importSettled(file: string): Promise<Record<string, unknown> | undefined | null> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), IMPORT_PATIENCE_MS); });
  try {
    return await Promise.race([import(pathToFileURL(file).href).catch(() => undefined), gaveUp]);
  } finally { clearTimeout(timer); }
}

function searchNamespace(ns: Record<string, unknown>, fn: Function): string[] | undefined {
  try {
    for (const [k, v] of Object.entries(ns)) if (v === fn) return [k];
    const d = ns.default;
    if (d && (typeof d === "object" || typeof d === "function")) {
      for (const [k, v] of Object.entries(d)) if (v === fn) return ["default", k];   // CommonJS exports
    }
  } catch { /* a binding not initialized yet (an import cycle): not here */ }
  return undefined;
}

const IMPORT_RE = /(?:^|[;\n}])\s*(?:import|export)\s+(?!type\b)(?:[^'"`;]*?\bfrom\s*)?(['"])([^'"\n]+)\1/g;

/** Files that `file` imports statically (type-only imports skipped); unresolvable ones are left out. */
function staticImports(file: string): string[] {
  let text: string;
  try { text = fs.readFileSync(file, "utf8"); } catch { return []; }
  text = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const resolved = resolveSpecifier(m[2], file);
    if (resolved) out.push(resolved);
  }
  return out;
}

function resolveSpecifier(spec: string, from: string): string | undefined {
  if (spec.startsWith("node:")) return undefined;
  if (spec.startsWith("file:")) spec = new URL(spec).pathname;
  if (spec.startsWith(".") || spec.startsWith("/")) {
    const base = path.resolve(path.dirname(from), spec);
    const ts = base.replace(/\.(m|c)?js$/, (_, k) => `.${k ?? ""}ts`);
    for (const c of [base, ts, base + ".ts", base + ".js", base + ".mjs", path.join(base, "index.ts"), path.join(base, "index.js")]) {
      if (fs.statSync(c, { throwIfNoEntry: false })?.isFile()) return realpath(c);
    }
    return undefined;
  }
  try {
    const r = createRequire(from).resolve(spec);
    return path.isAbsolute(r) ? realpath(r) : undefined;    // builtins resolve to bare names
  } catch { return undefined; }
}

function realpath(p: string): string { try { return fs.realpathSync(p); } catch { return p; } }
function hash(s: string): string { return createHash("sha1").update(s).digest("hex").slice(0, 20); }

/**
 * Worker side: apply the described function to each item of a chunk, in order, or (single) to
 * one item, returning its result alone. `star`: each item is a list of arguments. It must stay
 * self-contained (no free variables): its own source is what travels to the worker.
 * On a failure inside a chunk of several items, the error carries the item's index under
 * Symbol.for("helios.item") (the task's TaskError has it as `item`, so the driver can name the
 * item), and the remote stack a last line `at pool item <index>` for people.
 */
async function heliosPoolRun(spec: FnSpec, star: boolean, single: boolean, chunk: unknown, start = 0): Promise<unknown> {
  const cache: Map<string, Function> = ((globalThis as any)[Symbol.for("helios.util.functions")] ??= new Map());
  let fn = cache.get(spec.key);
  if (!fn) {
    let found: unknown;
    if (spec.file) {
      const fs = await import("node:fs");
      const path = await import("node:path");
      const url = await import("node:url");
      const file = !fs.existsSync(spec.file) && spec.relative ? path.resolve(spec.relative) : spec.file;
      found = await import(url.pathToFileURL(file).href);
      for (const k of spec.exportPath ?? []) found = (found as any)?.[k];
    } else {
      const setName = (t: object, value: string) => Object.defineProperty(t, "name", { value, configurable: true });
      for (const expr of [`(${spec.source})`, `({${spec.source}})[${JSON.stringify(spec.name)}]`]) {
        try { found = new Function("__name", `return ${expr};`)(setName); break; } catch (e) { if (!(e instanceof SyntaxError)) throw e; }
      }
    }
    if (typeof found !== "function") throw new TypeError(`could not rebuild the pool function ${spec.name} on the worker`);
    fn = found;
    cache.set(spec.key, fn);
  }
  if (single) return star ? fn(...(chunk as unknown[])) : fn(chunk);
  const items = chunk as unknown[];
  const out: unknown[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    try {
      out[i] = await (star ? fn(...(items[i] as unknown[])) : fn(items[i]));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (items.length > 1) {
        Object.defineProperty(err, Symbol.for("helios.item"), { value: start + i, configurable: true });
        err.stack = `${err.stack ?? `${err.name}: ${err.message}`}\n    at pool item ${start + i}`;
      }
      throw err;
    }
  }
  return out;
}

/** The remote function behind Pool and Process: `runChunk.remote(spec, star, false, items, firstIndex)`, `runChunk.remote(spec, star, true, item)`. */
export const runChunk = remote(heliosPoolRun);

/** The index of the item a chunk's task failed on (heliosPoolRun records it), if any. `failedItem(e) // 3` */
export function failedItem(e: unknown): number | undefined {
  return isTaskError(e) ? e.item : undefined;
}
