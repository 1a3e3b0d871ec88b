// Helios quickstart: parallel tasks, map/reduce over files, and a stateful actor.
// Run it with `npm start` (after `npm run build`).
//
// Functions and classes passed to remote() in this script must be self-contained:
// they may use globals, their parameters and what they define or import inside
// themselves, because their source is sent to worker processes.
import * as os from "node:os";
import * as path from "node:path";
import { readdirSync } from "node:fs";
import { init, shutdown, remote, get } from "helios";

const fmt = (n: number): string => n.toLocaleString("en-US");
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

let start = performance.now();
await init(); // starts a local cluster: a head, a node agent and one worker process per core
const cores = os.availableParallelism();

// The workers boot in the background; a first round of small tasks waits for them,
// so that the timings below measure the work and not the start-up.
const warmUp = remote((): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100)));
await get(Array.from({ length: cores }, () => warmUp.remote()));
console.log(`Helios: local cluster with ${cores} CPUs ready in ${seconds(performance.now() - start)}\n`);

// --- 1. Monte Carlo π: many independent tasks -------------------------------------

/** How many of `samples` random points in the unit square fall inside the quarter circle. */
function samplePi(samples: number): number {
  let inside = 0;
  for (let i = 0; i < samples; i++) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y <= 1) inside++;
  }
  return inside;
}
const samplePiTask = remote(samplePi);

const TASKS = 2 * cores;
const SAMPLES_PER_TASK = 10_000_000;
const total = TASKS * SAMPLES_PER_TASK;

start = performance.now();
const insideRefs = Array.from({ length: TASKS }, () => samplePiTask.remote(SAMPLES_PER_TASK)); // returns refs at once
const insideCounts: number[] = await get(insideRefs); // waits for all the tasks
const parallelMs = performance.now() - start;
const pi = (4 * insideCounts.reduce((a, b) => a + b, 0)) / total;

start = performance.now();
for (let i = 0; i < TASKS; i++) samplePi(SAMPLES_PER_TASK); // the same work, in this process
const sequentialMs = performance.now() - start;

console.log(`π ≈ ${pi.toFixed(5)} from ${fmt(total)} samples in ${TASKS} tasks, ${seconds(parallelMs)} ` +
  `(speed-up ${(sequentialMs / parallelMs).toFixed(1)}x over one process: ${seconds(sequentialMs)})`);

// --- 2. Word count: map one task per file, reduce in one more task ------------------

type Counts = Record<string, number>;

const countWords = remote(async (file: string): Promise<Counts> => {
  const { readFileSync } = await import("node:fs");
  const counts = new Map<string, number>();
  for (const word of readFileSync(file, "utf8").toLowerCase().match(/[a-z']+/g) ?? []) {
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return Object.fromEntries(counts);
});

const mergeCounts = remote((...parts: Counts[]): Counts => {
  const merged = new Map<string, number>();
  for (const part of parts) {
    for (const [word, n] of Object.entries(part)) merged.set(word, (merged.get(word) ?? 0) + n);
  }
  return Object.fromEntries(merged);
});

const dataDir = path.join(import.meta.dirname, "data");
const files = readdirSync(dataDir).filter((f) => f.endsWith(".txt")).map((f) => path.join(dataDir, f));

start = performance.now();
const perFile = files.map((file) => countWords.remote(file)); // map: one task per file
const counts: Counts = await get(mergeCounts.remote(...perFile)); // reduce: refs are passed straight to the task
const words = Object.values(counts).reduce((a, b) => a + b, 0);
const top5 = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 5);

console.log(`\nword count: ${fmt(words)} words (${fmt(Object.keys(counts).length)} distinct) ` +
  `in ${files.length} files, ${seconds(performance.now() - start)}; top 5 words:`);
top5.forEach(([word, n], i) => console.log(`  ${i + 1}. ${word.padEnd(6)} ${n}`));

// --- 3. An actor: a worker process that keeps state across calls -------------------

const PiTally = remote(class PiTally {
  inside = 0;
  samples = 0;
  calls = 0;

  /** Add one task's result; returns the running estimate of π. */
  add(inside: number, samples: number): number {
    this.inside += inside;
    this.samples += samples;
    this.calls++;
    return (4 * this.inside) / this.samples;
  }

  state(): { calls: number; samples: number; pi: number } {
    return { calls: this.calls, samples: this.samples, pi: (4 * this.inside) / this.samples };
  }
});

const tally = PiTally.remote();
// Feed the actor the π tasks' results by ref: the counts go from the store to the actor, not through here.
const running: number[] = await get(insideRefs.map((ref) => tally.add.remote(ref, SAMPLES_PER_TASK)));
const state = await get(tally.state.remote());

console.log(`\nactor PiTally, running estimate after each call: ${running.map((p) => p.toFixed(4)).join(", ")}`);
console.log(`actor state: ${state.calls} calls, ${fmt(state.samples)} samples, π ≈ ${state.pi.toFixed(5)}`);

await shutdown(); // stops the workers, the node agent and the head
