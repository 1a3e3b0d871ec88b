// The actor behind helios/util's Queue. It must stay self-contained (no imports, no
// module helpers): remote() is called from Helios's own module, so its source travels.
// It runs with a high maxConcurrency: a get() parked on an empty queue (or a put() on a
// full one) is a pending promise, and other calls keep being served meanwhile.

interface Waiter { resolve: (value?: any) => void; reject: (e: Error) => void; timer?: ReturnType<typeof setTimeout>; item?: unknown }

/** FIFO state: items, parked getters and putters, and the unfinished-task count for join(). */
export class HeliosQueue {
  readonly maxsize: number;
  #items: unknown[] = [];
  #getters: Waiter[] = [];
  #putters: Waiter[] = [];
  #unfinished = 0;
  #joiners: Array<() => void> = [];

  constructor(maxsize: number) {
    this.maxsize = maxsize > 0 ? Math.floor(maxsize) : 0;
  }

  /** Items held: `await get(h.qsize.remote())` */
  qsize(): number { return this.#items.length; }
  /** Whether no item is held: `await get(h.empty.remote())` */
  empty(): boolean { return this.#items.length === 0; }
  /** Whether put() would wait: `await get(h.full.remote())` */
  full(): boolean { return this.maxsize > 0 && this.#items.length >= this.maxsize; }

  /** Add an item; `timeout` null waits for room forever, 0 not at all (Full), else up to that many ms. `h.put.remote(x, null)` */
  put(item: unknown, timeout: number | null): void | Promise<void> {
    if (!this.full()) { this.#enqueue(item); return; }
    if (timeout === 0) throw this.#fail("Full", `the queue is full (maxsize ${this.maxsize})`);
    return this.#park(this.#putters, timeout, "Full", item);
  }

  /** Take the oldest item; `timeout` as for put() (Empty when none comes). `h.get.remote(1000)` */
  get(timeout: number | null): unknown {
    if (this.#items.length) return this.#dequeue();
    if (timeout === 0) throw this.#fail("Empty", "the queue is empty");
    return this.#park(this.#getters, timeout, "Empty");
  }

  /** Add all items or none (Full): `h.putBatch.remote([1, 2])` */
  putBatch(items: unknown[]): void {
    if (this.maxsize > 0 && items.length + this.#items.length > this.maxsize) {
      throw this.#fail("Full", `cannot add ${items.length} items to a queue holding ${this.#items.length} of maxsize ${this.maxsize}`);
    }
    for (const item of items) this.#enqueue(item);
  }

  /** Take n items or none (Empty): `h.getBatch.remote(2)` */
  getBatch(n: number): unknown[] {
    if (n > this.#items.length) throw this.#fail("Empty", `cannot get ${n} items from a queue holding ${this.#items.length}`);
    return Array.from({ length: n }, () => this.#dequeue());
  }

  /** One item taken earlier has been processed (queue.Queue.task_done): `h.taskDone.remote()` */
  taskDone(): void {
    if (this.#unfinished <= 0) throw this.#fail("ValueError", "taskDone() called more times than there were items");
    if (--this.#unfinished === 0) for (const j of this.#joiners.splice(0)) j();
  }

  /** Resolve once every item put so far has been marked done with taskDone(): `await get(h.join.remote())` */
  join(): void | Promise<void> {
    if (this.#unfinished === 0) return;
    return new Promise<void>((resolve) => { this.#joiners.push(resolve); });
  }

  #enqueue(item: unknown): void {
    this.#unfinished++;
    const getter = this.#getters.shift();
    if (getter) { clearTimeout(getter.timer); getter.resolve(item); } else this.#items.push(item);
  }

  #dequeue(): unknown {
    const item = this.#items.shift();
    const putter = this.#putters.shift();
    if (putter) { clearTimeout(putter.timer); this.#enqueue(putter.item); putter.resolve(); }
    return item;
  }

  #park(list: Waiter[], timeout: number | null, name: string, item?: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, item };
      if (timeout !== null && timeout !== undefined) {
        w.timer = setTimeout(() => {
          list.splice(list.indexOf(w), 1);
          reject(this.#fail(name, name === "Full" ? `the queue stayed full for ${timeout} ms` : `the queue stayed empty for ${timeout} ms`));
        }, timeout);
      }
      list.push(w);
    });
  }

  #fail(name: string, message: string): Error {
    const e = new Error(message);
    e.name = name;
    return e;
  }
}
