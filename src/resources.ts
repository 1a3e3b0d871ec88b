// Resource arithmetic shared by the head's placement and the agents' accounting.
import type { Resources } from "./protocol.js";

/** Does `have` cover `want`? (Zero and negative demands always fit.) */
export function fits(have: Resources, want: Resources): boolean {
  return Object.entries(want).every(([k, v]) => v <= 0 || (have[k] ?? 0) >= v - 1e-9);
}

export function take(have: Resources, r: Resources): void { for (const [k, v] of Object.entries(r)) have[k] = (have[k] ?? 0) - v; }
export function give(have: Resources, r: Resources): void { for (const [k, v] of Object.entries(r)) have[k] = (have[k] ?? 0) + v; }

/** `{ CPU: 2, GPU: 1 }` for messages. */
export function formatResources(r: Resources): string {
  return "{ " + Object.entries(r).filter(([, v]) => v > 0).map(([k, v]) => `${k}: ${v}`).join(", ") + " }";
}
