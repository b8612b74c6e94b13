/**
 * Server events for dashboards: model load/unload and placement from the registry, and live stats on a
 * timer, fanned out to Server-Sent Events clients (GET /v1/events). A slow client is dropped rather than
 * buffered without bound.
 */
import type { ServerResponse } from 'node:http';

export interface HubEvent {
  type: string;
  [k: string]: unknown;
}

/** Bytes one SSE client may have unsent before it is dropped. */
const MAX_BACKLOG = 1 << 20;

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private seq = 0;

  get size(): number {
    return this.clients.size;
  }

  publish(e: HubEvent): void {
    if (!this.clients.size) return;
    const frame = `id: ${++this.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
    for (const res of this.clients) {
      if (res.writableLength > MAX_BACKLOG) {
        this.drop(res);
        continue;
      }
      res.write(frame);
    }
  }

  /** Takes over `res` as an event stream until the client goes away or the server closes. */
  attach(res: ServerResponse, hello: HubEvent): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\nevent: ${hello.type}\ndata: ${JSON.stringify(hello)}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  private drop(res: ServerResponse): void {
    this.clients.delete(res);
    res.destroy();
  }

  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
