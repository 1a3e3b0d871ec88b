// Every HELIOS_* environment variable, read in one place: its type, default, which processes
// read it and what it does (docs/configuration.md is the same table, and a test keeps the two
// and the source in step). A value that does not parse fails where it is read, with an error
// naming the variable; each process checks all of its own at start (checkSettings), so a typo
// stops the process that would have used it, not a task hours later.
//
// Values are read from the environment when asked for, not at import: tests and the CLI set
// some after loading Helios. Workers import this module at start-up, so it imports nothing
// but node:os, node:path and errors.ts.
import * as os from "node:os";
import * as path from "node:path";
import { InvalidArgumentError } from "./errors.js";

/** Who reads a variable: a driver's process (init()), a worker, the head or node agent daemon, the `helios` command. */
export type Reader = "driver" | "worker" | "head" | "agent" | "cli";

export interface Variable<T = unknown> {
  readers: readonly Reader[];
  /** The default, as docs/configuration.md writes it. */
  default: string;
  /** What it does, in one line. */
  doc: string;
  /** Set by Helios for the processes it starts (plumbing), not by users. */
  internal?: boolean;
  parse(raw: string | undefined, name: string): T;
}

const ALL: Reader[] = ["driver", "worker", "head", "agent", "cli"];
const OWNERS: Reader[] = ["driver", "worker"];

function bad(name: string, want: string, raw: string, def: string): never {
  throw new InvalidArgumentError(`${name} must be ${want}, got ${JSON.stringify(raw)}. ` +
    `Tip: fix or unset it (default: ${def}); docs/configuration.md lists every HELIOS_* variable.`);
}

/** A number, checked; unset or empty: the default (`def` may be computed, or absent). */
function num<D extends number | undefined>(def: D | (() => D), ok: (v: number) => boolean, want: string, shown: string): (raw: string | undefined, name: string) => number | D {
  return (raw, name) => {
    if (raw === undefined || raw === "") return typeof def === "function" ? def() : def;
    const v = Number(raw);
    if (!Number.isFinite(v) || !ok(v)) bad(name, want, raw, shown);
    return v;
  };
}
const ms = (def: number, min = 0) => num(def, (v) => v >= min, min > 0 ? `a number of milliseconds above 0, e.g. ${def}` : `a number of milliseconds ≥ 0, e.g. ${def}`, String(def));
const bytes = (def: () => number, shown: string) => num(def, (v) => v >= 0 && Number.isInteger(v), "a whole number of bytes ≥ 0, e.g. 2000000000", shown);
const port = num(0, (v) => Number.isInteger(v) && v >= 0 && v <= 65535, "a port number from 0 to 65535 (0: any free port)", "0");
/** Text as given; unset: undefined. */
const text = (raw: string | undefined): string | undefined => raw;
/** Text, where empty counts as unset. */
const given = (raw: string | undefined): string | undefined => raw || undefined;

function portRange(raw: string | undefined, name: string): string | undefined {
  if (!raw) return undefined;
  const m = /^(\d+)-(\d+)$/.exec(raw);
  if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) bad(name, "a port range such as 20000-20999", raw, "any free port");
  return raw;
}

function json<T>(def: T): (raw: string | undefined, name: string) => T {
  return (raw, name) => {
    if (!raw) return def;
    try { return JSON.parse(raw) as T; } catch { return bad(name, "JSON", raw, JSON.stringify(def)); }
  };
}

function oneOf<const L extends string>(def: L, ...values: L[]): (raw: string | undefined, name: string) => L {
  return (raw, name) => {
    if (!raw) return def;
    if (!(values as string[]).includes(raw)) bad(name, values.map((v) => JSON.stringify(v)).join(" or "), raw, def);
    return raw as L;
  };
}

/** "1" turns it on; unset or anything else: off. */
const flag = (raw: string | undefined): boolean => raw === "1";

const v = <T>(x: Variable<T>): Variable<T> => x;

/** The table. Order: what users set (connecting, the cluster's daemons, memory, tuning), then plumbing. */
export const VARIABLES = {
  // ---- connecting to a cluster
  HELIOS_ADDRESS: v({ readers: ["driver", "cli"], default: "(none: init() starts a local cluster)", parse: given,
    doc: "HOST:PORT of a running head: init() and the helios commands join that cluster." }),
  HELIOS_TOKEN: v({ readers: ["driver", "cli", "head", "agent"], default: "(none)", parse: text,
    doc: "The cluster token; prefer HELIOS_TOKEN_FILE, which keeps it out of scripts. helios start gives the daemons theirs this way." }),
  HELIOS_TOKEN_FILE: v({ readers: ["driver", "cli"], default: "$HELIOS_HOME/token", parse: given,
    doc: "A file holding the cluster token, readable only by its owner (mode 0600)." }),
  HELIOS_HOME: v({ readers: ["driver", "cli"], default: "~/.helios", parse: (raw) => raw || path.join(os.homedir(), ".helios"),
    doc: "Where helios start keeps the token, the daemons' records and the head's storage; code packages are made here." }),
  HELIOS_TLS_CERT: v({ readers: ALL, default: "(none: no TLS)", parse: given,
    doc: "This machine's certificate (PEM) for mutual TLS on every channel; needs HELIOS_TLS_KEY and HELIOS_TLS_CA too (--tls-cert)." }),
  HELIOS_TLS_KEY: v({ readers: ALL, default: "(none)", parse: given, doc: "The private key of HELIOS_TLS_CERT (PEM) (--tls-key)." }),
  HELIOS_TLS_CA: v({ readers: ALL, default: "(none)", parse: given, doc: "The cluster CA (PEM): peers must present a certificate it signed (--tls-ca)." }),
  HELIOS_DRIVER_PORTS: v({ readers: ["driver"], default: "(any free port)", parse: portRange,
    doc: "Port range a driver's endpoint listens in, e.g. 20000-20999 (firewalled clusters)." }),
  HELIOS_WORKER_PORTS: v({ readers: ["agent", "worker"], default: "(any free port)", parse: portRange,
    doc: "Port range workers listen in, e.g. 21000-21999 (helios start --worker-ports)." }),
  HELIOS_SOCKET_DIR: v({ readers: ALL, default: "$TMPDIR/helios-<uid>", parse: given,
    doc: "Directory of the same-host sockets (mode 0700, only this user's)." }),
  HELIOS_WIRE_UDS: v({ readers: ALL, default: "1 (on Linux)", parse: (raw) => process.platform === "linux" && raw !== "0",
    doc: "0: processes on one host talk over TCP instead of Unix sockets." }),
  HELIOS_DEBUG: v({ readers: ["cli"], default: "0", parse: flag, doc: "1: the helios command prints the stack of an error it reports." }),

  // ---- the head
  HELIOS_HEAD_STORAGE: v({ readers: ["head"], default: "<head dir>/storage", parse: given,
    doc: "Directory of the head's tables and code packages; a head started on one with tables carries on from them (--storage)." }),
  HELIOS_HEAD_DIR: v({ readers: ["head"], default: "<session dir>/head, else $TMPDIR/head-<pid>", parse: given,
    doc: "The head's data directory (used as given: not made private)." }),
  HELIOS_HEAD_FSYNC: v({ readers: ["head"], default: "interval", parse: oneOf("interval", "interval", "always"),
    doc: "always: the head syncs its tables to disk on every write; interval: about once a second." }),
  HELIOS_HEALTH_TIMEOUT_MS: v({ readers: ["head"], default: "10000", parse: ms(10_000, 1),
    doc: "A node whose heartbeats stop for this long is declared dead." }),
  HELIOS_DRIVER_TIMEOUT_MS: v({ readers: ["head"], default: "60000",
    parse: num(60_000, (x) => x > 0, "a positive number of milliseconds, e.g. 60000", "60000"),
    doc: "A driver that answers none of the head's pings for this long has ended: its job's non-detached actors die." }),

  // ---- node agents
  HELIOS_HEARTBEAT_MS: v({ readers: ["agent"], default: "1000", parse: ms(1000, 1), doc: "How often an agent reports to the head." }),
  HELIOS_OBJECT_STORE_BYTES: v({ readers: ["agent"], default: "30% of RAM", parse: num(undefined, (x) => x >= 0, "a number of bytes ≥ 0, e.g. 2000000000", "30% of RAM"),
    doc: "Bytes of objects a node keeps in memory before the oldest spill to disk (init({ objectStoreMemory }), --object-store-memory)." }),
  HELIOS_SPILL_DIR: v({ readers: ["agent"], default: "$TMPDIR", parse: given, doc: "Where objects spill to (init({ spillDir }), --spill-dir)." }),
  HELIOS_MEMORY_THRESHOLD: v({ readers: ["agent"], default: "0.95", parse: num(0.95, (x) => x > 0 && x <= 1, "a fraction in (0, 1], e.g. 0.95", "0.95"),
    doc: "Above this fraction of the machine's memory in use, the agent kills the newest task's worker (OutOfMemoryError)." }),
  HELIOS_MEMORY_LIMIT_BYTES: v({ readers: ["agent"], default: "(none)",
    parse: num(undefined, (x) => x > 0 && Number.isInteger(x), "a positive whole number of bytes, e.g. 2000000000", "none"),
    doc: "Above this many bytes used by the node's workers together, the agent kills the newest task's worker." }),
  HELIOS_MEMORY_MONITOR_MS: v({ readers: ["agent"], default: "250",
    parse: num(250, (x) => x >= 0, "a number of milliseconds (0 turns the monitor off)", "250"),
    doc: "How often the agent samples memory use; 0 turns the memory monitor off." }),
  HELIOS_WORKER_NODE_FLAGS: v({ readers: ["agent"], default: "(none)", parse: (raw) => raw?.split(" ").filter(Boolean) ?? [],
    doc: "Extra node flags for every worker, space-separated (--cpu-prof, --inspect…); workers then exit on their own when the agent stops." }),
  HELIOS_PRESTART: v({ readers: ["agent"], default: "CPUs, at most the cores",
    parse: num(undefined, (x) => Number.isInteger(x) && x >= 0, "a whole number of workers ≥ 0", "one per CPU"),
    doc: "Workers an agent starts for a driver's job ahead of its first task (init({ prestartWorkers })); 0 starts them on demand." }),

  // ---- owners (drivers and workers): tuning
  HELIOS_MAX_LINEAGE: v({ readers: OWNERS, default: "100000", parse: num(100_000, (x) => Number.isInteger(x) && x >= 0, "a whole number ≥ 0", "100000"),
    doc: "Finished tasks whose recipes an owner keeps to rebuild lost objects; the oldest are dropped past it." }),
  HELIOS_HELD_BYTES: v({ readers: OWNERS, default: "min(16 GiB, RAM/4)", parse: bytes(() => Math.min(2 ** 34, os.totalmem() / 4), "min(16 GiB, RAM/4)"),
    doc: "Bytes of values a process keeps deserialized for get() before it reads them from the store again." }),
  HELIOS_STORE_POOL_BYTES: v({ readers: ["driver", "worker", "agent"], default: "min(2 GiB, RAM/10)",
    parse: bytes(() => Math.min(2 ** 31, os.totalmem() / 10), "min(2 GiB, RAM/10)"),
    doc: "Bytes of freed object-store segments a process keeps for reuse." }),

  // ---- connections: tuning
  HELIOS_HANDSHAKE_MS: v({ readers: ALL, default: "10000", parse: ms(10_000, 1), doc: "A wire peer that does not finish the handshake within this is closed." }),
  HELIOS_GRPC_IDLE_MS: v({ readers: ALL, default: "60000", parse: ms(60_000, 1), doc: "A control-plane connection without calls for this long is closed." }),
  HELIOS_DEDUP_MS: v({ readers: ["head", "agent"], default: "120000", parse: ms(120_000),
    doc: "How long a daemon remembers a call's answer, to answer a retry of it without running it twice." }),
  HELIOS_HEAD_RECONNECT_MS: v({ readers: ["driver", "worker", "agent"], default: "60000", parse: ms(60_000),
    doc: "How long calls wait for an unreachable head to come back before they fail with HeadUnavailableError." }),
  HELIOS_TEST_PROTOCOL_VERSION: v({ readers: ALL, default: "(this version's)", internal: true, parse: given,
    doc: "Pretend to speak another protocol version (compatibility tests)." }),

  // ---- plumbing: set by Helios for the processes it starts
  HELIOS_HOST: v({ readers: ["head", "agent"], default: "127.0.0.1", internal: true, parse: (raw) => raw || "127.0.0.1",
    doc: "Address a daemon binds to and advertises (helios start --host)." }),
  HELIOS_PORT: v({ readers: ["head"], default: "0", internal: true, parse: port, doc: "The head's port (helios start --port)." }),
  HELIOS_AGENT_PORT: v({ readers: ["agent"], default: "0", internal: true, parse: port, doc: "The agent's control port (helios start --agent-port)." }),
  HELIOS_TRANSFER_PORT: v({ readers: ["agent"], default: "0", internal: true, parse: port, doc: "The agent's object-transfer port (helios start --transfer-port)." }),
  HELIOS_HEAD: v({ readers: ["agent"], default: "(required)", internal: true, parse: given, doc: "The head's address, for an agent." }),
  HELIOS_SESSION_DIR: v({ readers: ["head", "agent"], default: "$TMPDIR/helios-<node id>", internal: true, parse: given,
    doc: "A daemon's session directory: logs, the head's data." }),
  HELIOS_RESOURCES: v({ readers: ["agent"], default: "{ CPU: cores }", internal: true, parse: json<Record<string, number>>({}),
    doc: "The node's resources as JSON (helios start --num-cpus/--num-gpus/--resources, init({ numCpus })…)." }),
  HELIOS_LABELS: v({ readers: ["agent"], default: "{}", internal: true, parse: json<Record<string, string>>({}), doc: "The node's labels as JSON (helios start --labels)." }),
  HELIOS_JOB: v({ readers: ["head", "agent"], default: "(none)", internal: true, parse: json<unknown>(undefined),
    doc: "An embedded cluster's job (JSON), from the driver that started it: registered and its workers warmed at once." }),
  HELIOS_PARENT: v({ readers: ["head", "agent"], default: "0", internal: true, parse: flag,
    doc: "1: the daemon was started by a driver and exits when the driver's end of its stdin closes." }),
  HELIOS_NODE_EXTRA_CA_CERTS: v({ readers: ["agent"], default: "(none)", internal: true, parse: given,
    doc: "NODE_EXTRA_CA_CERTS held back from the daemons (it costs each 50-80 ms at start) and given back to workers." }),
} satisfies Record<string, Variable<any>>;

export type SettingName = keyof typeof VARIABLES;
export type SettingValue<K extends SettingName> = ReturnType<(typeof VARIABLES)[K]["parse"]>;

/**
 * The value of a HELIOS_* variable, parsed and defaulted: `setting("HELIOS_HEARTBEAT_MS")` → 1000.
 * Throws InvalidArgumentError naming the variable when it does not parse.
 */
export function setting<K extends SettingName>(name: K, env: NodeJS.ProcessEnv = process.env): SettingValue<K> {
  return VARIABLES[name].parse(env[name], name) as SettingValue<K>;
}

/**
 * Parse every variable these processes read, so that a bad value stops a process at start,
 * naming the variable. `plumbing: false` leaves out those Helios sets for the processes it starts.
 */
export function checkSettings(readers: Reader | Reader[], o: { plumbing?: boolean; env?: NodeJS.ProcessEnv } = {}): void {
  const env = o.env ?? process.env;
  const who: Reader[] = Array.isArray(readers) ? readers : [readers];
  for (const [name, spec] of Object.entries(VARIABLES) as Array<[SettingName, Variable]>) {
    if (spec.internal && o.plumbing === false) continue;
    if (spec.readers.some((r) => who.includes(r))) spec.parse(env[name], name);
  }
}
