import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { SseHub, type SseSink } from './sse.js';

/** A stream whose peer reads nothing until `drain`: written bytes stay in writableLength. */
class FakeSink extends EventEmitter {
  writableLength = 0;
  frames: string[] = [];
  destroyed = false;
  ended = false;
  write(chunk: string): boolean {
    this.frames.push(chunk);
    this.writableLength += Buffer.byteLength(chunk);
    return true;
  }
  drain(): void {
    this.writableLength = 0;
  }
  end(): this {
    this.ended = true;
    this.emit('close');
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}
const sink = () => new FakeSink() as FakeSink & SseSink;

describe('SseHub', () => {
  it('sends each event as an SSE frame to every client', () => {
    const hub = new SseHub(4, 10_000);
    const [a, b] = [sink(), sink()];
    hub.add(a);
    hub.add(b);
    hub.send('picture', { n: 1 });
    expect(a.frames).toEqual(['event: picture\ndata: {"n":1}\n\n']);
    expect(b.frames).toEqual(a.frames);
  });

  it('refuses clients past its limit, and takes one again once a stream closes', () => {
    const hub = new SseHub(2, 10_000);
    const [a, b, c] = [sink(), sink(), sink()];
    expect(hub.add(a)).toBe(true);
    expect(hub.add(b)).toBe(true);
    expect(hub.add(c)).toBe(false);
    expect(hub.refused).toBe(1);
    a.emit('close');
    expect(hub.size).toBe(1);
    expect(hub.add(c)).toBe(true);
  });

  it('drops and counts a client that falls behind by more than its queue bound, keeps the one that reads', () => {
    const hub = new SseHub(4, 300);
    const [slow, fast] = [sink(), sink()];
    hub.add(slow);
    hub.add(fast);
    const payload = { pad: 'x'.repeat(100) };
    for (let i = 0; i < 5; i++) {
      hub.send('picture', payload);
      fast.drain();
    }
    expect(slow.destroyed).toBe(true);
    expect(slow.frames.length).toBeLessThan(5);
    expect(hub.dropped).toBe(1);
    expect(fast.frames).toHaveLength(5);
    expect(hub.size).toBe(1);
  });

  it('ends every stream on closeAll', () => {
    const hub = new SseHub();
    const a = sink();
    hub.add(a);
    hub.closeAll();
    expect(a.ended).toBe(true);
    expect(hub.size).toBe(0);
  });
});
