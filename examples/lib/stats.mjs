// Column statistics for examples/csv-summary.mjs.
import { remote } from "helios";

/** Parse a small numeric CSV with a header row: parseCsv("a,b\n1,2\n") → { header: ["a", "b"], columns: [Float64Array [1], Float64Array [2]] } */
export function parseCsv(text) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0].split(",").map((h) => h.trim());
  const columns = header.map(() => new Float64Array(lines.length - 1));
  lines.slice(1).forEach((line, r) => line.split(",").forEach((cell, c) => { columns[c][r] = Number(cell); }));
  return { header, columns };
}

/** count, mean, (population) std, min and max of a column: summarize(new Float64Array([1, 3])) → { count: 2, mean: 2, std: 1, min: 1, max: 3 } */
export function summarize(values) {
  let sum = 0, min = Infinity, max = -Infinity;
  for (const v of values) { sum += v; if (v < min) min = v; if (v > max) max = v; }
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { count: values.length, mean, std: Math.sqrt(sq / values.length), min, max };
}

/** Task: summarize one column on a worker. `await get(summarizeColumn.remote(put(column)))` */
export const summarizeColumn = remote(summarize);

/** One row of the summary table: formatRow("wind", { count: 2, mean: 1, … }) → "wind   2   1.000 …" */
export function formatRow(name, s) {
  return [name.padEnd(12), String(s.count).padStart(6), ...[s.mean, s.std, s.min, s.max].map((v) => v.toFixed(3).padStart(10))].join("");
}
