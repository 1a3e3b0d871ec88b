// The two messages of proto/helios.proto in protobuf's wire format, written by hand:
//   Request { string method = 1; bytes body = 2; }   Reply { bytes body = 1; }
// Loading protobufjs and parsing the .proto cost each process ~35 ms of start-up (head, agent
// and driver alike) for two messages of length-delimited fields. test/envelope.test.mjs checks
// these bytes against protobufjs reading the .proto, so the file stays the contract.

export interface Request { method: string; body: Buffer }
export interface Reply { body: Buffer }

export function encodeRequest(m: Request): Buffer {
  const method = Buffer.from(m.method ?? "", "utf8");
  return concatFields([[1, method], [2, m.body]]);
}

export function decodeRequest(b: Buffer): Request {
  const f = decodeFields(b);
  return { method: f.get(1)?.toString("utf8") ?? "", body: f.get(2) ?? Buffer.alloc(0) };
}

export function encodeReply(m: Reply): Buffer { return concatFields([[1, m.body]]); }

export function decodeReply(b: Buffer): Reply { return { body: decodeFields(b).get(1) ?? Buffer.alloc(0) }; }

function concatFields(fields: Array<[number, Uint8Array | undefined]>): Buffer {
  let size = 0;
  for (const [, v] of fields) if (v !== undefined) size += 1 + varintSize(v.length) + v.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const [n, v] of fields) {
    if (v === undefined) continue;
    out[pos++] = (n << 3) | 2;
    pos = writeVarint(out, pos, v.length);
    out.set(v, pos);
    pos += v.length;
  }
  return out;
}

/** The length-delimited fields by number (the last occurrence wins, as in protobuf); others skipped. */
function decodeFields(b: Buffer): Map<number, Buffer> {
  const fields = new Map<number, Buffer>();
  let pos = 0;
  while (pos < b.length) {
    let key: number;
    [key, pos] = readVarint(b, pos);
    const type = key & 7;
    if (type === 2) {
      let len: number;
      [len, pos] = readVarint(b, pos);
      if (pos + len > b.length) throw new RangeError("truncated protobuf field");
      fields.set(key >>> 3, b.subarray(pos, pos + len));
      pos += len;
    } else if (type === 0) [, pos] = readVarint(b, pos);
    else if (type === 1) pos += 8;
    else if (type === 5) pos += 4;
    else throw new RangeError(`unsupported protobuf wire type ${type}`);
  }
  return fields;
}

function varintSize(n: number): number { let s = 1; while (n >= 0x80) { n = Math.floor(n / 128); s++; } return s; }

function writeVarint(out: Buffer, pos: number, n: number): number {
  while (n >= 0x80) { out[pos++] = (n & 0x7f) | 0x80; n = Math.floor(n / 128); }
  out[pos++] = n;
  return pos;
}

function readVarint(b: Buffer, pos: number): [number, number] {
  let n = 0;
  let scale = 1;
  for (;;) {
    if (pos >= b.length) throw new RangeError("truncated protobuf varint");
    const byte = b[pos++];
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) return [n, pos];
    scale *= 128;
    if (scale > 2 ** 63) throw new RangeError("protobuf varint too long");
  }
}
