// A worker process's entry point: V8 settings first, then the worker itself (main.ts).
//
// A worker's start-up resolves ~40 modules, which runs node's URL-to-path and path-normalizing
// helpers hot enough that V8's optimizing compiler compiles them: work thrown away, and 3.4 MB
// of the compiler's own code paged into every idle worker. Four times V8's default budget
// (67,584) before a function is optimized keeps start-up in the interpreter; a user's hot
// function is optimized a few milliseconds later than it would be. The budget is set here, not
// on the command line: any V8 flag there makes node reject its built-in code cache, and
// compiling its bootstrap from source cost each worker 15–20 ms of CPU at start-up. A budget
// the user gives (their node flags, NODE_OPTIONS, HELIOS_WORKER_NODE_FLAGS) wins.
import { setFlagsFromString } from "node:v8";

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((a) => a.includes("--interrupt-budget"));
if (!given) setFlagsFromString("--interrupt-budget=270000");
await import("./main.js");
