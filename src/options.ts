// Options are checked once, where they are given: options(), a method's options(), init()
// and getActor(). A value out of range fails at that call with InvalidArgumentError, which
// names the option, the value, and what to pass instead — never later, in another process,
// or as a V8 heap exhaustion.
import { InvalidArgumentError } from "./errors.js";
import type { ActorOptions, CallOptions, InitOptions, TaskOptions } from "./types.js";

/**
 * Most values one call may return (numReturns). Each is an object its owner tracks, with a
 * ref and a wire record, so the count is bounded well short of what exhausts the driver's heap
 * (~10 million); 10,000 leaves room above the 3,000 that calls are known to use.
 */
export const MAX_NUM_RETURNS = 10_000;
/** Longest actor name, namespace or task name (they are keys in the head's tables and lines in logs). */
export const MAX_NAME_LENGTH = 256;

/** runtimeEnv.envVars: how many, of what names, how long each value, and all of them together (the whole environment of a process is limited to ~2 MiB on Linux). */
export const MAX_ENV_VARS = 256;
export const MAX_ENV_VALUE = 32 * 1024;
export const MAX_ENV_TOTAL = 1024 * 1024;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names a worker's own start-up reads (Helios's settings, node's flags): set by a task, they would break its worker. */
export const isReservedEnvName = (k: string): boolean => k.startsWith("HELIOS_") || k === "NODE_OPTIONS";

const TASK_KEYS = ["name", "numCpus", "numGpus", "memory", "resources", "numReturns", "maxRetries",
  "retryExceptions", "schedulingStrategy", "runtimeEnv"] as const;
const ACTOR_KEYS = ["name", "namespace", "lifetime", "getIfExists", "maxRestarts", "maxTaskRetries",
  "maxConcurrency", "maxPendingCalls", "numCpus", "numGpus", "memory", "resources", "schedulingStrategy", "runtimeEnv"] as const;
const RUNTIME_ENV_KEYS = ["workingDir", "excludes", "envVars"] as const;
const CALL_KEYS = ["numReturns", "name"] as const;
const INIT_KEYS = ["address", "token", "tokenFile", "numCpus", "numGpus", "resources", "namespace", "runtimeEnv",
  "prestartWorkers", "objectStoreMemory", "spillDir"] as const;

const show = (v: unknown): string => typeof v === "string" ? JSON.stringify(v) : typeof v === "number" || typeof v === "boolean" ? String(v)
  : v === undefined || v === null ? String(v) : typeof v === "object" ? "an object" : `a ${typeof v}`;

function fail(where: string, key: string, v: unknown, want: string, tip: string): never {
  throw new InvalidArgumentError(`${where}: ${key} must be ${want}, got ${show(v)}. Tip: ${tip}`);
}

function keys(o: unknown, allowed: readonly string[], where: string): Record<string, unknown> {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new InvalidArgumentError(`${where} takes an object of options, got ${show(o)}. Tip: pass e.g. { ${allowed[0]}: … }.`);
  }
  for (const k of Object.keys(o)) {
    if (!(allowed as readonly string[]).includes(k)) {
      throw new InvalidArgumentError(`${where}: unknown option '${k}'. Known: ${allowed.join(", ")}. Tip: check its spelling.`);
    }
  }
  return o as Record<string, unknown>;
}

const isInt = (v: unknown): v is number => Number.isInteger(v);

function intIn(o: Record<string, unknown>, key: string, min: number, max: number, where: string, tip: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!isInt(v) || v < min || v > max) {
    fail(where, key, v, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max.toLocaleString("en")}`, tip);
  }
}

/** A count of retries or restarts: -1 (forever) or an integer ≥ 0. */
function retries(o: Record<string, unknown>, key: string, where: string): void {
  intIn(o, key, -1, Number.MAX_SAFE_INTEGER, where, `pass 0 for none, a count, or -1 for no limit.`);
}

function amount(o: Record<string, unknown>, key: string, where: string): void {
  const v = o[key];
  if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0)) {
    fail(where, key, v, "a finite number ≥ 0", `pass a count such as ${key === "memory" ? "2e9 (bytes)" : "1 or 0.5"}.`);
  }
}

function resourceAmounts(o: Record<string, unknown>, where: string): void {
  for (const k of ["numCpus", "numGpus", "memory"]) amount(o, k, where);
  const r = o.resources;
  if (r === undefined) return;
  if (typeof r !== "object" || r === null || Array.isArray(r)) fail(where, "resources", r, "an object of amounts", `pass e.g. { resources: { widget: 1 } }.`);
  for (const k of Object.keys(r)) amount(r as Record<string, unknown>, k, `${where}: resources`);
}

/**
 * runtimeEnv, of the job (init()) or of a task or actor (options()): workingDir and excludes are
 * the job's alone (its workers run in one directory); envVars are set in the worker processes.
 */
function runtimeEnv(o: Record<string, unknown>, where: string, job: boolean): void {
  const v = o.runtimeEnv;
  if (v === undefined) return;
  const env = keys(v, RUNTIME_ENV_KEYS, `${where}: runtimeEnv`);
  if (job) {
    if (env.workingDir !== undefined && (typeof env.workingDir !== "string" || env.workingDir === "")) {
      fail(where, "runtimeEnv.workingDir", env.workingDir, "a directory path", "pass e.g. \".\" to run the workers in (a copy of) this directory.");
    }
    const ex = env.excludes;
    if (ex !== undefined && !(Array.isArray(ex) && ex.every((x) => typeof x === "string"))) {
      fail(where, "runtimeEnv.excludes", ex, "a list of names or relative paths", "pass e.g. [\"node_modules\", \"data\"].");
    }
  } else {
    for (const k of ["workingDir", "excludes"] as const) {
      if (env[k] !== undefined) {
        throw new InvalidArgumentError(`${where}: runtimeEnv.${k} is the job's, not a task's or an actor's: all the job's workers run in one directory. ` +
          `Tip: pass it to init({ runtimeEnv: { ${k} } }); options({ runtimeEnv }) takes envVars.`);
      }
    }
  }
  if (env.envVars !== undefined) envVars(env.envVars, where);
}

function envVars(v: unknown, where: string): void {
  const key = "runtimeEnv.envVars";
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, key, v, "an object of names and string values", "pass e.g. { envVars: { LOG_LEVEL: \"debug\" } }.");
  const names = Object.keys(v);
  if (names.length > MAX_ENV_VARS) fail(where, key, `an object of ${names.length} variables`, `at most ${MAX_ENV_VARS} variables`, "pass fewer, or one variable holding a file path or JSON.");
  let total = 0;
  for (const name of names) {
    if (!ENV_NAME.test(name)) fail(where, `${key} name`, name, "letters, digits and _, not starting with a digit", "rename the variable, e.g. MY_SETTING.");
    if (isReservedEnvName(name)) {
      throw new InvalidArgumentError(`${where}: ${key} may not set ${name}: ${name === "NODE_OPTIONS" ? "node's flags" : "Helios's own settings"} ` +
        "would change how the worker process itself starts, not just the task. " +
        `Tip: ${name === "NODE_OPTIONS" ? "give workers node flags with HELIOS_WORKER_NODE_FLAGS on the node agent" : "set Helios's variables in the environment of the processes that read them (docs/configuration.md)"}.`);
    }
    const value = (v as Record<string, unknown>)[name];
    if (typeof value !== "string") fail(where, `${key}.${name}`, value, "a string", `pass String(value).`);
    if (value.length > MAX_ENV_VALUE) fail(where, `${key}.${name}`, `(${value.length} characters)`, `at most ${MAX_ENV_VALUE} characters`, "put large values in a file (or put() them) and pass its path.");
    total += name.length + value.length + 2;
  }
  if (total > MAX_ENV_TOTAL) fail(where, key, `${total} characters in all`, `at most ${MAX_ENV_TOTAL} characters in all`, "put large values in a file and pass its path.");
}

/** Throws unless `v` is a usable name: a non-empty string of at most MAX_NAME_LENGTH characters, no control characters. */
export function checkName(v: unknown, what: string, where: string): void {
  const tip = `pass a short non-empty string such as "counter".`;
  if (typeof v !== "string") fail(where, what, v, "a string", tip);
  if (v.length === 0) fail(where, what, v, "a non-empty string (an empty one would name nothing)", tip);
  if (v.length > MAX_NAME_LENGTH) fail(where, what, `${v.slice(0, 20)}… (${v.length} characters)`, `at most ${MAX_NAME_LENGTH} characters`, "use a shorter name.");
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\u0000-\u001f\u007f]/.test(v)) fail(where, what, v, "free of control characters", tip);
}

function numReturns(o: Record<string, unknown>, where: string): void {
  intIn(o, "numReturns", 1, MAX_NUM_RETURNS, where,
    `return that many values as one array (numReturns: 1), or put() them and return the refs.`);
}

/** Task options after options() merged them: `f.options({ numReturns: 2 })`. */
export function checkTaskOptions(given: TaskOptions, merged: TaskOptions): TaskOptions {
  const where = "options()";
  keys(given, TASK_KEYS, where);
  const o = merged as Record<string, unknown>;
  if (o.name !== undefined) checkName(o.name, "name", where);
  numReturns(o, where);
  retries(o, "maxRetries", where);
  const re = o.retryExceptions;
  if (re !== undefined && typeof re !== "boolean" && !(Array.isArray(re) && re.every((x) => typeof x === "string"))) {
    fail(where, "retryExceptions", re, "true, false, or a list of error names", "pass e.g. ['TimeoutError'].");
  }
  resourceAmounts(o, where);
  runtimeEnv(o, where, false);
  return merged;
}

/** Actor options after options() merged them: `Counter.options({ name: "c", maxConcurrency: 4 })`. */
export function checkActorOptions(given: ActorOptions, merged: ActorOptions): ActorOptions {
  const where = "options()";
  keys(given, ACTOR_KEYS, where);
  const o = merged as Record<string, unknown>;
  if (o.name !== undefined) checkName(o.name, "name", where);
  if (o.namespace !== undefined) checkName(o.namespace, "namespace", where);
  if (o.getIfExists !== undefined && typeof o.getIfExists !== "boolean") fail(where, "getIfExists", o.getIfExists, "true or false", "pass getIfExists: true with a name.");
  if (o.getIfExists && o.name === undefined) {
    throw new InvalidArgumentError(`${where}: getIfExists needs a name to look the actor up by. Tip: pass { name: "…", getIfExists: true }.`);
  }
  if (o.lifetime !== undefined && o.lifetime !== "detached" && o.lifetime !== "non_detached") {
    fail(where, "lifetime", o.lifetime, `"detached" or "non_detached"`, `pass "detached" for an actor that outlives its driver.`);
  }
  intIn(o, "maxConcurrency", 1, Number.MAX_SAFE_INTEGER, where, "pass 1 (one call at a time) or how many async calls may interleave.");
  retries(o, "maxRestarts", where);
  retries(o, "maxTaskRetries", where);
  const mp = o.maxPendingCalls;
  if (mp !== undefined && mp !== -1 && !(isInt(mp) && mp >= 1)) fail(where, "maxPendingCalls", mp, "-1 (no limit) or an integer ≥ 1", "pass -1 or a limit such as 1000.");
  resourceAmounts(o, where);
  runtimeEnv(o, where, false);
  return merged;
}

/** An actor method's call options: `handle.split.options({ numReturns: 2 })`. */
export function checkCallOptions(given: CallOptions): CallOptions {
  const where = "method options()";
  const o = keys(given, CALL_KEYS, where);
  if (o.name !== undefined) checkName(o.name, "name", where);
  numReturns(o, where);
  return given;
}

/** A cluster token: what `helios start --head` makes, or any printable text without spaces. */
export function checkToken(v: unknown, where: string): string {
  const tip = "pass the cluster's token (helios start --head stores it in $HELIOS_HOME/token), or leave it out to have one made.";
  if (typeof v !== "string") fail(where, "token", v, "a string", tip);
  if (v.length === 0) fail(where, "token", v, "a non-empty string", tip);
  if (v.length > 4096) fail(where, "token", `(${v.length} characters)`, "at most 4096 characters", tip);
  if (!/^[\x21-\x7e]+$/.test(v)) fail(where, "token", "(not shown)", "printable ASCII without spaces (it travels in a request header)", tip);
  return v;
}

/** init()'s options, before anything starts. */
export function checkInitOptions(given: InitOptions): InitOptions {
  const where = "init()";
  const o = keys(given, INIT_KEYS, where);
  if (o.address !== undefined && (typeof o.address !== "string" || !/^.+:\d+$/.test(o.address))) {
    fail(where, "address", o.address, "HOST:PORT", "pass the address 'helios start --head' printed, e.g. \"10.0.0.5:6379\".");
  }
  if (o.token !== undefined) checkToken(o.token, where);
  if (o.tokenFile !== undefined && (typeof o.tokenFile !== "string" || o.tokenFile === "")) fail(where, "tokenFile", o.tokenFile, "a file path", "pass the path of a file holding the token (mode 0600).");
  if (o.namespace !== undefined) checkName(o.namespace, "namespace", where);
  resourceAmounts(o, where);
  intIn(o, "prestartWorkers", 0, Number.MAX_SAFE_INTEGER, where, "pass 0 to start workers on demand.");
  runtimeEnv(o, where, true);
  return given;
}
