// The worker task of examples/queue-workers.mjs: the thread-and-queue pattern over tasks.
import { remote } from "helios";
import { Queue } from "helios/util";

/** One job's work: the sum of the squares 1..n. work(3) → 14 */
function work(n) {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += i * i;
  return sum;
}

/**
 * A worker: take jobs until the `null` sentinel, put each result, mark each job done.
 * The queues arrive as plain `{ actor, maxsize }` state and are rebuilt with `new Queue(state)`.
 * `worker.remote("worker-1", jobs, results)` → how many jobs it handled
 */
export const worker = remote(async (name, jobState, resultState) => {
  const jobs = new Queue(jobState);
  const results = new Queue(resultState);
  let handled = 0;
  for (;;) {
    const job = await jobs.get();
    if (job === null) return handled;
    await results.put({ worker: name, id: job.id, n: job.n, value: work(job.n) });
    await jobs.taskDone();
    handled++;
  }
});
