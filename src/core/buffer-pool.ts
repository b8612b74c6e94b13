/**
 * Reusable large buffers. A server that takes 600 KB tensors (a 224² FP32 image) at 1,000 requests a
 * second allocates ~0.6 GB/s of ArrayBuffers if every body, every batch and every copy is fresh; V8 counts
 * that external memory and answers with a full collection every ~20 requests (measured: 45 % of the HTTP
 * thread's time, docs/performance.md). The server reads request bodies into buffers taken here and hands
 * them back when their run has settled. A body whose tensors go to a thread lane alone (unbatched) moves
 * there with them (a transfer detaches it, and a detached buffer is not taken back), so only batched and
 * process-lane bodies, whose bytes are copied on, come back for reuse.
 *
 * Sizes are kept in classes of `granule` bytes (rounded up), so bodies whose JSON headers differ by a few
 * bytes share a class. Buffers under `minBytes` are not pooled (allocation is cheap there). Past
 * `maxRetainedBytes` free buffers are dropped to the collector. A buffer given back twice is kept once.
 */
export interface BufferPoolOptions {
  /** Free buffers kept, in bytes, at most (default 256 MiB). */
  maxRetainedBytes?: number;
  /** Smaller requests get a fresh buffer and are not kept (default 64 KiB). */
  minBytes?: number;
  /** Size classes, bytes (default 64 KiB). */
  granule?: number;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly pooled = new WeakSet<ArrayBuffer>();
  private readonly kept = new WeakSet<ArrayBuffer>();
  private retained = 0;
  private readonly maxRetainedBytes: number;
  private readonly minBytes: number;
  private readonly granule: number;
  /** Buffers handed out from the free lists (reused) and made fresh. */
  reused = 0;
  made = 0;

  constructor(opts: BufferPoolOptions = {}) {
    this.maxRetainedBytes = opts.maxRetainedBytes ?? 256 * 1024 * 1024;
    this.minBytes = opts.minBytes ?? 64 * 1024;
    this.granule = opts.granule ?? 64 * 1024;
  }

  /** A buffer of at least `bytes` (its byteLength may be larger: a size class). Its contents are not cleared. */
  take(bytes: number): ArrayBuffer {
    if (bytes < this.minBytes) return new ArrayBuffer(bytes);
    const size = Math.ceil(bytes / this.granule) * this.granule;
    const b = this.free.get(size)?.pop();
    if (b !== undefined) {
      this.kept.delete(b);
      this.retained -= size;
      this.reused++;
      return b;
    }
    this.made++;
    const fresh = new ArrayBuffer(size);
    this.pooled.add(fresh);
    return fresh;
  }

  /** Hands a buffer from take() back. Buffers this pool did not make, detached ones and repeats are ignored. */
  give(b: ArrayBuffer): void {
    if (!this.pooled.has(b) || this.kept.has(b)) return;
    const size = b.byteLength;
    if (size === 0 || this.retained + size > this.maxRetainedBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(b);
    this.kept.add(b);
    this.retained += size;
  }

  /** Bytes of free buffers kept now. */
  get retainedBytes(): number {
    return this.retained;
  }
}
