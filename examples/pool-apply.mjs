// A pool of 4 workers squares 10 numbers with applyAsync; results print in input order.
// Run: node examples/pool-apply.mjs     (after npm run build)
import { init, shutdown } from "helios";
import { Pool } from "helios/util";

await init();
const pool = new Pool({ processes: 4 });
const square = (x) => x * x;                       // self-contained: its source travels to the workers

const results = [];
for (let i = 0; i < 10; i++) results.push(pool.applyAsync(square, [i]));   // all 10 start at once, 4 run at a time
for (const [i, r] of results.entries()) console.log(`${i} squared is ${await r.get({ timeout: 10_000 })}`);

pool.close();                                      // no more work…
await pool.join();                                 // …and wait for what was submitted
await shutdown();
