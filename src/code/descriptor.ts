// How a remote function or class reaches a worker (DESIGN.md "Code"):
//  - defined in the entry script: its source text travels, so it must be self-contained;
//    a free variable is rejected here, at definition time, naming the variable and the fix;
//  - defined in any other module: the worker imports that module by path, whose top-level
//    remote() calls register the definition under the same id, and looks it up.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { freeVariables, topLevelNames } from "./free-vars.js";
import { deserialize, serializeToBuffer } from "../serialization.js";

export interface CodeDescriptor {
  id: string;
  name: string;
  kind: "function" | "class";
  /** Absolute path of the defining module, when it is not the entry script. */
  module?: string;
  source: string;
  /** The source alone can be evaluated (no free variables). */
  selfContained: boolean;
  /**
   * `base` with leading arguments bound (serialized), sent to a worker once with the function
   * rather than with every task: helios/util's pool runner bound to the user's function.
   */
  bound?: { base: CodeDescriptor; args: Uint8Array };
}

// Shared through globalThis so two copies of the library see one registry.
const registry: Map<string, Function> = ((globalThis as any)[Symbol.for("helios.code.registry")] ??= new Map());
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const ownDirs = [path.join(packageRoot, "dist") + path.sep, path.join(packageRoot, "src") + path.sep];
const MODULE_GLOBALS = new Set(["require", "__dirname", "__filename"]);

let role: "driver" | "worker" = "driver";
/** Workers only register definitions; checks happen once, where the code is defined. */
export function setCodeRole(r: "driver" | "worker"): void { role = r; }

let entryScript: string | undefined;
function entry(): string | undefined {
  if (entryScript === undefined && process.argv[1]) {
    try { entryScript = fs.realpathSync(path.resolve(process.argv[1])); } catch { entryScript = path.resolve(process.argv[1]); }
  }
  return entryScript;
}

/** The file of the first stack frame outside Helios: the module that called remote(). */
export function callerModule(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):\d+:\d+\)?\s*$/.exec(line);
    if (!m) continue;
    let file = m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1];
    if (ownDirs.some((d) => file.startsWith(d))) continue;
    // Code with no file (node -e, a REPL) is treated like the entry script: its source travels.
    try { file = fs.realpathSync(file); } catch { return undefined; }
    return file;
  }
  return undefined;
}

/** Describe `target` for shipping; throws TypeError for what could never run on a worker. */
export function describe(target: Function, kind: "function" | "class"): CodeDescriptor {
  const source = Function.prototype.toString.call(target);
  if (/\{\s*\[native code\]\s*\}$/.test(source)) {
    throw new TypeError(`remote(): ${target.name || "this function"} is a native or bound function; pass the function itself.`);
  }
  const name = target.name || "anonymous";
  const module = callerModule();
  if (role === "worker") {
    const id = hash(module + "\0" + source);
    registry.set(id, target);
    return { id, name, kind, module, source, selfContained: !module && freeVariables(source).length === 0 };
  }
  const isEntry = !module || module === entry();
  const free = freeVariables(source).filter((v) => !MODULE_GLOBALS.has(v));
  if (isEntry) {
    if (free.length) throw closureError(name, kind, free, module);
    return { id: hash(source), name, kind, source, selfContained: true };
  }
  const missing = free.filter((v) => !moduleTopLevel(module!).has(v));
  if (missing.length && !/\.[mc]?ts$/.test(module!)) throw closureError(name, kind, missing, module);
  const id = hash(module + "\0" + source);
  registry.set(id, target);
  return { id, name, kind, module, source, selfContained: free.length === 0 };
}

let shippedFrom: string | undefined;
/** Worker side: the job's working dir was shipped from `dir` on the driver's machine; we run in the copy (cwd). */
export function setShippedWorkingDir(dir: string | undefined): void { shippedFrom = dir; }

function localModulePath(module: string): string {
  if (!shippedFrom) return module;
  const rel = path.relative(shippedFrom, module);
  return rel.startsWith("..") || path.isAbsolute(rel) ? module : path.join(process.cwd(), rel);
}

/** `base` with `args` bound in front: a descriptor of its own, named `name`. */
export function bindDescriptor(base: CodeDescriptor, args: unknown[], name: string): CodeDescriptor {
  const bytes = serializeToBuffer(args, `${name}'s bound arguments`);
  const id = createHash("sha1").update(base.id).update("\0").update(bytes).digest("hex").slice(0, 20);
  return { ...base, id, name, bound: { base, args: bytes } };
}

/** Worker side: find or build the function or class a descriptor names. */
export async function load(d: CodeDescriptor): Promise<Function> {
  const known = registry.get(d.id);
  if (known) return known;
  if (d.bound) {
    const fn = (await load(d.bound.base)).bind(null, ...(deserialize(d.bound.args) as unknown[]));
    registry.set(d.id, fn);
    return fn;
  }
  if (d.module) {
    const local = localModulePath(d.module);
    await import(pathToFileURL(local).href);
    // Defined from the copy, the module registered under its own path: look it up by that id too.
    const copy = registry.get(hash(realpath(local) + "\0" + d.source));
    if (copy) { registry.set(d.id, copy); return copy; }
    const found = registry.get(d.id);
    if (found) return found;
    if (!d.selfContained) {
      throw new Error(`remote ${d.kind} ${d.name} was not found in ${d.module} after importing it on the worker. ` +
        `Tip: call remote() at the top level of the module, so that importing the module defines it.`);
    }
  }
  const fn = evaluate(d);
  registry.set(d.id, fn);
  return fn;
}

function evaluate(d: CodeDescriptor): Function {
  const where = d.module ?? entry() ?? path.join(process.cwd(), "entry.js");
  const req = createRequire(where);
  const nameHelper = (t: object, value: string) => Object.defineProperty(t, "name", { value, configurable: true });
  const args = ["require", "__dirname", "__filename", "__name"];
  const values = [req, path.dirname(where), where, nameHelper];
  for (const expr of [`(${d.source})`, `({${d.source}})[${JSON.stringify(d.name)}]`]) {
    try { return new Function(...args, `return ${expr};`)(...values); } catch (e) { if (!(e instanceof SyntaxError)) throw e; }
  }
  throw new Error(`could not rebuild remote ${d.kind} ${d.name} from its source on the worker`);
}

const topLevelCache = new Map<string, Set<string>>();
function moduleTopLevel(file: string): Set<string> {
  let names = topLevelCache.get(file);
  if (!names) {
    try { names = topLevelNames(fs.readFileSync(file, "utf8")); } catch { names = new Set(); }
    topLevelCache.set(file, names);
  }
  return names;
}

function closureError(name: string, kind: string, vars: string[], module?: string): TypeError {
  const list = vars.map((v) => `'${v}'`).join(", ");
  return new TypeError(
    `remote(): the ${kind} '${name}'${module ? ` in ${module}` : ""} uses ${list} from the scope around it, ` +
    `which a worker process cannot see. Fix: pass ${vars.length > 1 ? "them" : "it"} as an argument ` +
    `(f.remote(x, ${vars[0]})), define ${vars.length > 1 ? "them" : "it"} inside the ${kind}, or move the ${kind} ` +
    `into a module that the script imports (a module's imports and top-level helpers are available on workers).`);
}

function realpath(p: string): string { try { return fs.realpathSync(p); } catch { return p; } }

function hash(s: string): string { return createHash("sha1").update(s).digest("hex").slice(0, 20); }
