// What the demos write for a person to look at: a grid of grayscale images as a PNG (Node's zlib for the deflate,
// nothing else), and the output directory they go to.
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit grayscale PNG of `pixels` (values in [0, 1], row-major, width x height). */
export function encodePng(pixels: ArrayLike<number>, width: number, height: number): Buffer {
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = Math.round(255 * Math.min(1, Math.max(0, pixels[y * width + x])));
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 0; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // 8 bits, grayscale, deflate, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

/**
 * n images of h x w (values in [0, 1], one after another in `images`) tiled `cols` to a row with a 2-pixel mid-grey
 * border, each pixel drawn `zoom` x `zoom`.
 */
export function imageGrid(images: ArrayLike<number>, n: number, h: number, w: number, cols: number, zoom = 2): { pixels: Float32Array; width: number; height: number } {
  const rows = Math.ceil(n / cols), gap = 2;
  const width = cols * (w * zoom + gap) + gap, height = rows * (h * zoom + gap) + gap;
  const pixels = new Float32Array(width * height).fill(0.5);
  for (let k = 0; k < n; k++) {
    const ox = gap + (k % cols) * (w * zoom + gap), oy = gap + Math.floor(k / cols) * (h * zoom + gap);
    for (let y = 0; y < h * zoom; y++) for (let x = 0; x < w * zoom; x++) {
      pixels[(oy + y) * width + ox + x] = images[k * h * w + Math.floor(y / zoom) * w + Math.floor(x / zoom)];
    }
  }
  return { pixels, width, height };
}

/** Write a grid of images as a PNG at `path` (creating its directory). */
export function writeGridPng(path: string, images: ArrayLike<number>, n: number, h: number, w: number, cols: number, zoom = 2): void {
  const g = imageGrid(images, n, h, w, cols, zoom);
  writeText(path, encodePng(g.pixels, g.width, g.height));
}

export function writeText(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Logistic sigmoid of logits, for pixels. */
export const sigmoid = (z: ArrayLike<number>) => Float32Array.from(z as ArrayLike<number>, (v) => 1 / (1 + Math.exp(-v)));

/**
 * True when node was started on the demo `name` (demos/node/<name>.ts, or its bundle dist/demos/<name>.js), not when a
 * test or another demo imports it. By the script's name, not import.meta.url: in a bundle every module shares one URL.
 */
export const isMain = (name: string) => /^[^.]+/.exec((process.argv[1] ?? '').replace(/^.*[\\/]/, ''))?.[0] === name;
