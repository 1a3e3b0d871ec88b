// A double-ended queue. Array.prototype.shift() is O(n) once an array is big enough to live
// in V8's large-object space (~16k elements): a 100k-task queue drained with shift() spent
// two thirds of the driver's time moving elements.

export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number { return this.items.length - this.head; }

  push(x: T): void { this.items.push(x); }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {   // compact now and then: amortized O(1)
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  unshift(x: T): void {
    if (this.head > 0) this.items[--this.head] = x;
    else this.items.unshift(x);
  }

  /** Remove one element; false when it is not here. */
  remove(x: T): boolean {
    const i = this.items.indexOf(x, this.head);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Take every element out, in order. */
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }
}
