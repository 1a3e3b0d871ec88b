// MapReduce word count over examples/data/*.txt: map each file to its word counts on the
// pool's workers, reduce the partial counts to one table, print the most frequent words.
// Run: node examples/wordcount.mjs
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { init, shutdown } from "helios";
import { Pool } from "helios/util";
import { countFile, mergeCounts, topWords } from "./lib/words.mjs";

await init();
const dataDir = path.join(import.meta.dirname, "data");
const files = readdirSync(dataDir).filter((f) => f.endsWith(".txt")).sort().map((f) => path.join(dataDir, f));

const pool = new Pool();
const partials = await pool.map(countFile, files);           // map: one file per item, on workers
const counts = await pool.apply(mergeCounts, [partials]);    // reduce: on a worker too
pool.close();

for (const [i, f] of files.entries()) {
  const words = Object.values(partials[i]).reduce((a, b) => a + b, 0);
  console.log(`${path.basename(f).padEnd(16)} ${String(words).padStart(5)} words`);
}
const total = Object.values(counts).reduce((a, b) => a + b, 0);
console.log(`${files.length} files, ${total} words, ${Object.keys(counts).length} distinct`);
console.log("top 10:", topWords(counts, 10).map(([w, n]) => `${w} ${n}`).join(", "));
await shutdown();
