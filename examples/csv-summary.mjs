// A remote summary of a CSV file: the driver reads and parses examples/data/weather.csv,
// puts each column in the object store, and a task per column computes count, mean,
// std, min and max.
// Run: node examples/csv-summary.mjs
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { init, shutdown, put, get } from "helios";
import { parseCsv, summarizeColumn, formatRow } from "./lib/stats.mjs";

await init();
const file = path.join(import.meta.dirname, "data", "weather.csv");
const { header, columns } = parseCsv(readFileSync(file, "utf8"));
const summaries = await get(columns.map((c) => summarizeColumn.remote(put(c))));   // Float64Array columns

console.log(`${path.basename(file)}: ${columns[0].length} rows, ${header.length} columns`);
console.log(["column".padEnd(12), "count".padStart(6), ...["mean", "std", "min", "max"].map((h) => h.padStart(10))].join(""));
for (const [i, name] of header.entries()) console.log(formatRow(name, summaries[i]));
await shutdown();
