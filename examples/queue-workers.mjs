// A task scheduler: 4 worker tasks drain a Queue of 10 jobs (the thread-and-queue pattern).
// Run: node examples/queue-workers.mjs
import { init, shutdown, get } from "helios";
import { Queue } from "helios/util";
import { worker } from "./lib/jobs.mjs";

await init();
const jobs = new Queue({ maxsize: 4 });            // a small queue: put() waits while workers catch up
const results = new Queue();
// The workers mostly wait on the queue: half a CPU each lets all four run on a 2-CPU machine.
const workers = [1, 2, 3, 4].map((i) => worker.options({ numCpus: 0.5 }).remote(`worker-${i}`, jobs, results));

for (let id = 1; id <= 10; id++) await jobs.put({ id, n: id * 1000 });
await jobs.join();                                  // every job taken and marked done
for (let i = 0; i < 4; i++) await jobs.put(null);   // one sentinel per worker: stop
const handled = await get(workers);

const done = (await results.getNowaitBatch(10)).sort((a, b) => a.id - b.id);
for (const r of done) console.log(`job ${String(r.id).padStart(2)}: sum of squares 1..${r.n} = ${r.value} (${r.worker})`);
console.log(`10 jobs done by 4 workers: ${handled.join(" + ")} = ${handled.reduce((a, b) => a + b, 0)}`);
await Promise.all([jobs.shutdown(), results.shutdown()]);
await shutdown();
