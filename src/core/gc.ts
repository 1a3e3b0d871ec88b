// V8 does not know that a tiny ObjectRef keeps megabytes alive in the object store, so
// it may never collect dropped refs (and never run their FinalizationRegistry callbacks).
// The owner therefore forces a collection after every STORE_GC_BYTES of new stored objects.
import * as v8 from "node:v8";
import * as vm from "node:vm";

export const STORE_GC_BYTES = 512 * 1024 * 1024;

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    if (typeof (globalThis as any).gc === "function") gc = (globalThis as any).gc;
    else {
      v8.setFlagsFromString("--expose-gc");
      gc = vm.runInNewContext("gc") as () => void;
    }
  }
  gc!();
}
