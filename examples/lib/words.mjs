// Word counting for examples/wordcount.mjs: the map and reduce steps of a MapReduce.
// These functions use this module's imports and helpers, so they run on workers by
// importing this module (a pool finds them here because the example imports them).
import { readFileSync } from "node:fs";

const WORD = /[a-z']+/g;

/** Lower-case words of a text, quotes trimmed: tokenize("It's the end.") → ["it's", "the", "end"] */
function tokenize(text) {
  return (text.toLowerCase().match(WORD) ?? []).map((w) => w.replace(/^'+|'+$/g, "")).filter(Boolean);
}

/** Map step on a text: word → count. countWords("a b a") → { a: 2, b: 1 } */
export function countWords(text) {
  const counts = {};
  for (const w of tokenize(text)) counts[w] = (counts[w] ?? 0) + 1;
  return counts;
}

/** Map step on a file: countFile("/path/to/file.txt") → { the: 130, … } */
export function countFile(file) {
  return countWords(readFileSync(file, "utf8"));
}

/** Reduce step: add the counts of several partial results. mergeCounts([{ a: 1 }, { a: 2 }]) → { a: 3 } */
export function mergeCounts(parts) {
  const total = {};
  for (const part of parts) for (const [w, n] of Object.entries(part)) total[w] = (total[w] ?? 0) + n;
  return total;
}

/** The n most frequent words, ties broken alphabetically: topWords({ a: 2, b: 2, c: 1 }, 2) → [["a", 2], ["b", 2]] */
export function topWords(counts, n) {
  return Object.entries(counts).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, n);
}
