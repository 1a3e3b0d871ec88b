import { setting } from "./config.js";
/** Wire-protocol version: a client and a cluster must agree on it (VersionMismatchError).
 *  HELIOS_TEST_PROTOCOL_VERSION pretends to be another version, for compatibility tests. */
export const PROTOCOL_VERSION = setting("HELIOS_TEST_PROTOCOL_VERSION") ?? "0.2";
