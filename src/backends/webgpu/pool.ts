// GPU buffers are pooled by (usage, size class): an executable takes its buffers when compiled and gives them
// back when disposed, so recompiling for a new shape reuses memory, and a replayed step creates nothing.

/** Round up to 256 bytes, then to the next of 2^k or 1.5·2^k: at most a third wasted, few distinct classes. */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  const p = 2 ** Math.floor(Math.log2(b));
  return b <= p ? p : b <= 1.5 * p ? 1.5 * p : 2 * p;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  /** Buffers ever created, and the bytes they hold, in and out of use. */
  created = 0;
  bytes = 0;

  constructor(private device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) return reused;
    this.created++;
    this.bytes += size;
    return this.device.createBuffer({ size, usage });
  }

  release(buf: GPUBuffer): void {
    const key = `${buf.usage}:${buf.size}`;
    const list = this.free.get(key) ?? [];
    list.push(buf);
    this.free.set(key, list);
  }

  destroy(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }
}
