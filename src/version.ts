/** Wire-protocol version: a client and a cluster must agree on it (VersionMismatchError). */
export const PROTOCOL_VERSION = "0.1";
