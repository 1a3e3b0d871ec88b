// Spawned by the memory_growth_mb_per_100k_tasks row: a fresh driver with a fresh cluster
// (so no earlier row's garbage is in the figures) runs the million tasks of memoryGrowth()
// in bench/helios-rows.mjs and prints its result as one JSON line.
import { init, shutdown } from "helios";
import { memoryGrowth } from "./helios-rows.mjs";

await init();
try {
  console.log(JSON.stringify(await memoryGrowth({ quick: process.argv.includes("--quick") })));
} finally {
  await shutdown();
}
