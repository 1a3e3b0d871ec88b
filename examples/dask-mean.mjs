// A Dask-style mean of a 10,000 × 10,000 random array, computed in 1,000 × 1,000 blocks.
// The array never exists in one place: each task generates its block from a seed (so the
// result is reproducible), sums it, and the partial sums are combined in a tree of tasks
// (one per row of blocks, then the total) — refs flow from task to task.
// Run: node examples/dask-mean.mjs
import { init, shutdown, get } from "helios";
import { blockSeed, sumBlock, combineBlocks } from "./lib/blocks.mjs";

const N = 10_000;
const B = 1_000;
const grid = N / B;                                 // 10 × 10 blocks

await init();
const started = Date.now();
const rows = [];
for (let i = 0; i < grid; i++) {
  const blocks = Array.from({ length: grid }, (_, j) => sumBlock.remote(blockSeed(i, j, grid), B, B));
  rows.push(combineBlocks.remote(...blocks));      // a row's total, as soon as its blocks are done
}
const { sum, count } = await get(combineBlocks.remote(...rows));
console.log(`array ${N} x ${N} in ${grid * grid} blocks of ${B} x ${B}: ${count} values`);
console.log(`mean = ${(sum / count).toPrecision(12)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
await shutdown();
