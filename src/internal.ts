// What helios/util (src/util/) uses of the library beyond its public API (src/index.ts), and the
// only other module of src/ it may import (eslint.config.js holds it to that). Each is an internal:
// not part of "helios", free to change together with src/util/.
export { runtime } from "./api.js";
export { bindRemote } from "./remote.js";
export { MAX_LEASES } from "./core/submitter.js";
export { FailedRef } from "./core/get.js";
export { callerModule } from "./code/descriptor.js";
export { freeVariables } from "./code/free-vars.js";
