// Spawned by the init_to_first_result_ms row, once per sample: a fresh node process that
// times init() up to the value of its first task. Prints {"ms": …} and exits.
import { init, shutdown, remote, get } from "helios";

const t0 = performance.now();
await init();
const f = remote(() => 1);
const v = await get(f.remote());
const ms = performance.now() - t0;
if (v !== 1) throw new Error(`the first task returned ${v}`);
console.log(JSON.stringify({ ms }));
await shutdown();
