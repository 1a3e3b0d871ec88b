// progress(): get() for many refs, drawing a bar on stderr as they complete (tqdm-style).
// It draws only when the stream is a terminal; piped or redirected output stays clean.
import { get, type ObjectRef } from "../index.js";

export interface ProgressOptions {
  /** Text before the bar; default "progress". */
  label?: string;
  /** Where to draw; default process.stderr. Nothing is written unless `stream.isTTY`. */
  stream?: { isTTY?: boolean; columns?: number; write(text: string): unknown };
}

/**
 * The values of `refs` in order, with a progress bar while they complete: `const ys = await progress(refs, { label: "squares" })`
 */
export async function progress<T>(refs: ObjectRef<T>[], options: ProgressOptions = {}): Promise<T[]> {
  const stream = options.stream ?? process.stderr;
  const label = options.label ?? "progress";
  const total = refs.length;
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  const tty = !!stream.isTTY;
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!tty || (!final && done < total && now - lastDraw < 50)) return;   // at most 20 frames a second
    lastDraw = now;
    const counts = `${done}/${total}`;
    const secs = ((now - started) / 1000).toFixed(1);
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - counts.length - secs.length - 12));
    const filled = total === 0 ? width : Math.round((done / total) * width);
    stream.write(`\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${counts} ${secs}s${final ? "\n" : ""}`);
  };
  draw(false);
  try {
    const values = await Promise.all(refs.map((r) => get(r).then((v) => { done++; draw(false); return v; })));
    draw(true);
    return values;
  } catch (e) {
    draw(true);
    throw e;
  }
}
