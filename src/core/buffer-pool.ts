// Reusable buffers for large values an owner holds in its own memory. Fresh memory is slow to
// fill: every 4 KiB page faults on first write (0.5–2 GB/s here), while a copy into memory
// already touched runs at memory speed (11–15 GB/s). So the buffers of freed values are kept,
// up to a budget, and handed to the next values that fit.

export class BufferPool {
  private free: Buffer[] = [];   // ascending by length
  private freeBytes = 0;

  constructor(private readonly maxFreeBytes: number) {}

  /** A buffer of at least `size` bytes (contents undefined): a pooled one of at most twice the size, or a new one. */
  take(size: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= size);
    if (i >= 0 && this.free[i].length <= 2 * size) {
      const [b] = this.free.splice(i, 1);
      this.freeBytes -= b.length;
      return b;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Return a buffer nobody references any more. */
  give(b: Buffer): void {
    if (b.length > this.maxFreeBytes) return;
    while (this.freeBytes + b.length > this.maxFreeBytes) {   // make room: drop the smallest first
      this.freeBytes -= this.free.shift()!.length;
    }
    const i = this.free.findIndex((x) => x.length >= b.length);
    this.free.splice(i < 0 ? this.free.length : i, 0, b);
    this.freeBytes += b.length;
  }

  get pooledBytes(): number { return this.freeBytes; }
}
