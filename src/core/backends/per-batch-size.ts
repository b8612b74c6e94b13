/**
 * One session per batch size, behind one Session. On the CUDA EP a session whose input shape changes from
 * one run to the next pays again for its convolution plans (measured on an H200: a ResNet-50 batch
 * alternating between sizes 1 and 15 cost ~100 ms a run against ~5 ms at a fixed size, even after every
 * size was warmed up), so a batcher that forms several sizes keeps one session per size, each seeing one
 * shape, as TensorRT's optimisation profiles do. The first size seen runs on the session already open; each
 * new size opens another (same model, same options), up to `maxSessions`; sizes beyond that, or a size whose
 * session could not be opened (device memory), run on the first.
 */
import type { HostTensor, Session } from './types.js';

/** The batch dimension of a run: dim 0 of the first input with any dimensions (1 for scalars only). */
export function batchSizeOf(feeds: Readonly<Record<string, HostTensor>>): number {
  for (const t of Object.values(feeds)) if (t.dims.length > 0) return t.dims[0] as number;
  return 1;
}

export class PerBatchSizeSession implements Session {
  private readonly bySize = new Map<number, Promise<Session>>();
  private readonly opened: Session[] = [];
  private disposed = false;

  constructor(
    private readonly first: Session,
    private readonly open: () => Promise<Session>,
    private readonly maxSessions = 16,
  ) {
    this.opened.push(first);
  }

  get target(): Session['target'] {
    return this.first.target;
  }
  get inputs(): Session['inputs'] {
    return this.first.inputs;
  }
  get outputs(): Session['outputs'] {
    return this.first.outputs;
  }

  /** The sizes that have a session of their own (the first one's included). */
  sizes(): number[] {
    return [...this.bySize.keys()].sort((a, b) => a - b);
  }

  private sessionFor(size: number): Promise<Session> {
    const known = this.bySize.get(size);
    if (known) return known;
    if (this.bySize.size === 0) {
      const p = Promise.resolve(this.first);
      this.bySize.set(size, p);
      return p;
    }
    if (this.bySize.size >= this.maxSessions) return Promise.resolve(this.first);
    const p = this.open().then(
      (s) => {
        if (this.disposed) {
          void s.dispose();
          return this.first;
        }
        this.opened.push(s);
        return s;
      },
      () => this.first, // could not open one more (e.g. out of device memory): this size shares the first
    );
    this.bySize.set(size, p);
    return p;
  }

  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const s = await this.sessionFor(batchSizeOf(feeds));
    return s.run(feeds);
  }

  placement(): Promise<Record<string, number> | undefined> {
    return this.first.placement();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const all = this.opened.splice(0);
    this.bySize.clear();
    await Promise.all(all.map((s) => s.dispose()));
  }
}
