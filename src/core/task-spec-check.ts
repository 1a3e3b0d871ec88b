// The shape of a pushed task, checked where it arrives (a worker's push handler), by hand: it runs
// once per task, where a schema walk that copies the spec would cost more than the check is worth.
// A push that does not fit is answered with InvalidRequestError naming the field; nothing runs.
import { InvalidRequestError } from "../errors.js";
import { MAX_NUM_RETURNS } from "../options.js";
import type { TaskSpec } from "../protocol.js";

export function checkTaskSpec(spec: unknown): asserts spec is TaskSpec {
  const wrong = (what: string) => {
    throw new InvalidRequestError(`INVALID_ARGUMENT: a pushed task refused: ${what}. Tip: this endpoint takes tasks from Helios owners only.`);
  };
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) return wrong("task: expected a map");
  const s = spec as Record<string, unknown>;
  for (const k of ["taskId", "name", "jobId", "fnId", "owner"] as const) if (typeof s[k] !== "string") wrong(`task.${k}: expected a string`);
  if (!Array.isArray(s.args)) wrong("task.args: expected a list");
  const args = s.args as unknown[];
  for (let i = 0; i < args.length; i++) {   // per task: no iterator and pair per argument
    const a = args[i];
    if (a === null || typeof a !== "object" || !("v" in a || "id" in a)) wrong(`task.args[${i}]: expected an inline or stored value`);
  }
  if (!Number.isInteger(s.numReturns) || (s.numReturns as number) < 0 || (s.numReturns as number) > MAX_NUM_RETURNS) {
    wrong(`task.numReturns: expected an integer from 0 to ${MAX_NUM_RETURNS}`);
  }
  if (s.fn !== undefined && (s.fn === null || typeof s.fn !== "object")) wrong("task.fn: expected a code descriptor");
  if (s.actor !== undefined) {
    const a = s.actor as Record<string, unknown> | null;
    if (a === null || typeof a !== "object" || typeof a.actorId !== "string" || typeof a.method !== "string") wrong("task.actor: expected { actorId, method, … }");
  }
}
