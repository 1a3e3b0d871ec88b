// Blocks of a large random array for examples/dask-mean.mjs. A block is never shipped:
// the task that needs it generates it from its seed (a seeded PRNG), so results are
// reproducible and checkable, and only two numbers per block travel back.
import { remote } from "helios";

/** Mulberry32: a small, fast seeded PRNG of floats in [0, 1). mulberry32(1)() → 0.6270739405881613 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of block (i, j) of a grid with `cols` blocks per row: blockSeed(2, 3, 10) → 20024 */
export function blockSeed(i, j, cols) {
  return 20_000 + i * cols + j + 1;
}

/** Generate one rows × cols block from its seed and return its sum and count: blockSum(7, 2, 2) → { sum, count: 4 } */
export function blockSum(seed, rows, cols) {
  const block = new Float64Array(rows * cols);
  const next = mulberry32(seed);
  for (let k = 0; k < block.length; k++) block[k] = next();
  let sum = 0;
  for (let k = 0; k < block.length; k++) sum += block[k];
  return { sum, count: block.length };
}

/** Combine partial { sum, count } results: combine([{ sum: 1, count: 2 }, { sum: 3, count: 2 }]) → { sum: 4, count: 4 } */
export function combine(parts) {
  return parts.reduce((acc, p) => ({ sum: acc.sum + p.sum, count: acc.count + p.count }), { sum: 0, count: 0 });
}

/** Task: generate block `seed` on a worker and sum it. `await get(sumBlock.remote(7, 1000, 1000))` */
export const sumBlock = remote(blockSum);

/** Task: combine partial sums; refs passed as arguments arrive as their values. `combineBlocks.remote(ref1, ref2)` */
export const combineBlocks = remote((...parts) => combine(parts));
