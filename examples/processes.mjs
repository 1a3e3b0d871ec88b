// Processes started and joined, as with multiprocessing.Process. Each Process is one task
// on a worker process (workers are pooled and reused, so two may report the same pid).
// Run: node examples/processes.mjs
import { init, shutdown } from "helios";
import { Process } from "helios/util";

/** Runs on a worker; its console.log shows up here, prefixed with the worker's pid. */
function greet(name, times) {
  console.log(`hello ${name}`);
  return `${name} greeted ${times} time(s) by pid ${process.pid}`;
}

await init();
const people = ["ada", "grace", "alan", "edsger"];
const procs = people.map((name, i) => new Process({ target: greet, args: [name, i + 1], name: `greet-${name}` }));

for (const p of procs) p.start();                  // all four run at once
for (const p of procs) await p.join();             // wait for each in turn

for (const p of procs) console.log(`${p.name}: exitCode=${p.exitCode}, ${p.result}`);
console.log(`driver pid ${process.pid}; ${procs.filter((p) => p.exitCode === 0).length} of ${procs.length} processes succeeded`);
await shutdown();
