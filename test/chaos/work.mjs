// Remote functions and actors of the chaos suite (a module: workers import it by path).
// Every result is a pure function of its index, so the driver can check each one, and every
// actor keeps its ledger in a file, so that it survives the actor's restarts.
import * as fs from "node:fs";
import * as path from "node:path";
import { remote, get, getRuntimeContext } from "helios";
import { openLatch } from "../fixtures/latch.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What the child of task i returns. */
export const childValue = (i) => (i * 2654435761) % 1000003;
/** What task i returns: its child's value combined with its own part. */
export const expected = (i) => childValue(i) * 3 + i;

export const child = remote(async (i, ms) => {
  await sleep(ms);
  return childValue(i);
}).options({ maxRetries: -1 });

/** Runs a nested task and waits for it: a crash of either worker must not change the answer. */
export const parent = remote(async (i, ms) => {
  await sleep(ms);
  const c = await get(child.remote(i, ms));
  return c * 3 + i;
}).options({ maxRetries: -1 });

/** For the partition test: like parent and child, but never retried, so that any failure shows as an error. */
export const strictChild = remote(async (i, ms) => {
  await sleep(ms);
  return childValue(i);
}).options({ maxRetries: 0 });

/** `started`: a latch file it opens when it starts (test/fixtures/latch.mjs). */
export const strictParent = remote(async (i, ms, started) => {
  if (started) openLatch(started, process.pid);
  await sleep(ms);
  return (await get(strictChild.remote(i, ms))) * 3 + i;
}).options({ maxRetries: 0 });

/**
 * Appends every sequence number it handles to <dir>/<name>.log before answering; a restarted
 * instance reloads the file. Duplicates are allowed (a call in flight when the actor died is
 * replayed: at least once); a number more than one past the highest seen so far is a gap.
 */
export const Ledger = remote(class Ledger {
  constructor(dir, name) {
    this.file = path.join(dir, `${name}.log`);
    this.max = Math.max(0, ...readLedger(this.file).map((e) => e.seq));
    fs.appendFileSync(path.join(dir, `${name}.starts`), `${Date.now()} ${getRuntimeContext().nodeId} ${process.pid}\n`);
  }
  async apply(seq, ms) {
    if (ms) await sleep(ms);
    fs.appendFileSync(this.file, `${seq} ${process.pid} ${Date.now()}\n`);   // write(2) returns once the kernel has it: a SIGKILL cannot lose it
    this.max = Math.max(this.max, seq);
    return seq;
  }
}).options({ maxRestarts: -1, maxTaskRetries: -1 });

/** A ledger file's entries: "<seq> <pid> <ms>" lines, one per call applied. */
export function readLedger(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => {
    const [seq, pid, ms] = l.split(" ").map(Number);
    return { seq, pid, ms };
  });
}

/** A ledger's problems: numbers skipped, or applied before the one before them (out of order). */
export function checkLedger(entries, calls) {
  const problems = [];
  let max = 0;
  const around = (k) => entries.slice(Math.max(0, k - 3), k + 4).map((e) => `${e.seq}@${e.pid}`).join(" ");
  for (const [k, { seq }] of entries.entries()) {
    if (!Number.isInteger(seq) || seq < 1 || seq > calls) problems.push(`entry ${k} is ${seq}, not in 1..${calls}`);
    else if (seq > max + 1) problems.push(`entry ${k} is ${seq} after at most ${max} (calls ${max + 1}..${seq - 1} skipped or out of order): … ${around(k)} …`);
    max = Math.max(max, seq);
  }
  if (max < calls) problems.push(`ends at ${max} of ${calls}`);
  return problems;
}
