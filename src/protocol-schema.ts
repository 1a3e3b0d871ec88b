// Schemas of the message shapes in protocol.ts that both the head and the node agents take
// (head/requests.ts and node-agent/requests.ts declare their methods' bodies with them). Each
// is held to its interface by objectOf<T>(): a field added there must be added here.
import { SchemaViolation, array, boolean, bytes, either, lazy, literal, number, objectOf, optional, record, string, type Schema } from "./rpc/schema.js";
import type { ActorCallInfo, ActorCreateRequest, ActorOwner, EnvVars, JobInfo, Resources, StoredValue, Strategy, TaskSpec, WireValue } from "./protocol.js";
import type { CodeDescriptor } from "./code/descriptor.js";
import type { ErrorInfo, TaskErrorDetails } from "./errors.js";
import type { ActorId, JobId, NodeId, ObjectId, TaskId, WorkerId } from "./ids.js";
import { ENV_NAME, MAX_ENV_VALUE, MAX_ENV_VARS, isReservedEnvName } from "./options.js";

/** Ids are generated (src/ids.ts): short, but a task's return id is its task id and an index. */
export const id = <T extends string>(): Schema<T> => string({ max: 256 }) as Schema<T>;
/** Names, addresses, one-line texts. */
export const name = (): Schema<string> => string({ max: 1024 });
/** File paths. */
export const filePath = (): Schema<string> => string({ max: 4096 });
/** Code package hashes (head/packages.ts). */
export const packageHash = (): Schema<string> => string({ pattern: /^[0-9a-f]{64}$/, what: "a package hash (the SHA-256 of the package: 64 hex digits)" });

/** Totals and demands: `{ CPU: 2, GPU: 1 }`, every amount finite and ≥ 0. */
export const resources: Schema<Resources> = record(number({ min: 0 }), { maxKeys: 256 });
/** What a node has free: may dip below zero while a blocked worker takes its CPU back. */
export const available: Schema<Resources> = record(number(), { maxKeys: 256 });
export const labels: Schema<Record<string, string>> = record(string({ min: 0, max: 1024 }));

export const strategy: Schema<Strategy> = either(literal("DEFAULT", "SPREAD"),
  objectOf<{ nodeId: string; soft?: boolean }>()({ nodeId: id<string>(), soft: optional(boolean()) }));

const taskErrorDetails = objectOf<TaskErrorDetails>()({
  originalName: string({ min: 0 }), originalMessage: string({ min: 0, max: 1 << 20 }), remoteStack: string({ min: 0, max: 1 << 20 }),
  taskName: string({ min: 0 }), pid: number({ integer: true, min: 0 }), nodeId: string({ min: 0, max: 256 }), attempts: optional(number({ integer: true, min: 0 })),
  item: optional(number({ integer: true, min: 0 })),
});
export const errorInfo: Schema<ErrorInfo> = objectOf<ErrorInfo>()({
  // Any name may arrive (a user's error class); only the names Helios rebuilds are checked at compile time.
  name: name() as Schema<ErrorInfo["name"]>, message: string({ min: 0, max: 1 << 20 }), task: optional(taskErrorDetails),
  cause: optional(lazy(() => errorInfo)), lost: optional(objectOf<{ id: string; node: string }>()({ id: id<string>(), node: id<string>() })),
});

/** runtimeEnv.envVars: the limits options.ts holds them to, with messages, where they are given. */
const envRecord = record(string({ min: 0, max: MAX_ENV_VALUE }), { maxKeys: MAX_ENV_VARS });
const envName = "an environment variable name (letters, digits, _; not HELIOS_* or NODE_OPTIONS)";
export const envVars: Schema<EnvVars> = Object.assign((v: unknown, path: string): EnvVars => {
  const out = envRecord(v, path);
  for (const k of Object.keys(out)) if (!ENV_NAME.test(k) || isReservedEnvName(k)) throw new SchemaViolation(path, `keys that are ${envName}`, `key ${JSON.stringify(k.slice(0, 40))}`);
  return out;
}, { expected: `${envRecord.expected}, keys that are ${envName}` });

export const jobInfo: Schema<JobInfo> = objectOf<JobInfo>()({
  jobId: id<JobId>(), namespace: name(), driverAddress: name(), cwd: filePath(),
  execArgv: array(string({ min: 0, max: 1 << 16 }), { max: 1024 }), workingDir: optional(filePath()), package: optional(packageHash()),
  envVars: optional(envVars),
});

const codeDescriptor: Schema<CodeDescriptor> = objectOf<CodeDescriptor>()({
  id: id<string>(), name: name(), kind: literal("function", "class"), module: optional(filePath()),
  source: string({ max: 16 << 20 }), selfContained: boolean(),
  bound: optional(objectOf<NonNullable<CodeDescriptor["bound"]>>()({ base: lazy(() => codeDescriptor), args: bytes() })),
});

const storedValue = objectOf<StoredValue>()({ s: number({ integer: true, min: 0 }), id: id<ObjectId>(), node: id<NodeId>(), at: name() });
const wireValue: Schema<WireValue> = either(objectOf<{ v: Uint8Array }>()({ v: bytes() }), storedValue);

export const taskSpec: Schema<TaskSpec> = objectOf<TaskSpec>()({
  taskId: id<TaskId>(), name: name(), jobId: id<JobId>(), fnId: id<string>(), fn: optional(codeDescriptor),
  args: array(wireValue, { max: 1 << 20 }), numReturns: number({ integer: true, min: 0, max: 1 << 16 }), owner: name(),
  actor: optional(objectOf<ActorCallInfo>()({ actorId: id<ActorId>(), method: name(), callerId: name(), seq: number({ integer: true, min: 0 }) })),
});

const actorOwner = objectOf<ActorOwner>()({ workerId: id<WorkerId>(), jobId: id<JobId>(), nodeId: optional(id<NodeId>()), driver: boolean() });

/** Restarts and retries: a count, or -1 for forever. */
const count = () => number({ integer: true, min: -1 });

export const actorCreateRequest: Schema<ActorCreateRequest> = objectOf<ActorCreateRequest>()({
  actorId: id<ActorId>(), jobId: id<JobId>(), className: name(), methods: array(name()), name: optional(name()),
  namespace: name(), getIfExists: optional(boolean()), detached: boolean(), resources, strategy: optional(strategy),
  maxConcurrency: number({ integer: true, min: 1 }), maxRestarts: count(), maxTaskRetries: count(), spec: taskSpec, owner: optional(actorOwner),
  maxPendingCalls: optional(count()), envVars: optional(envVars), placementCpus: optional(number({ min: 0 })),
});
