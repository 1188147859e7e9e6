// The drawing pad, and the digit on it as an MNIST image: MNIST digits are scaled to fit a 20x20 box, then placed
// in the 28x28 frame by their centre of mass, so a drawing must be treated the same way to look like the data.
export class DrawPad {
  private g: CanvasRenderingContext2D;
  private last?: [number, number];
  private inked = false;

  constructor(readonly canvas: HTMLCanvasElement, onStroke: () => void) {
    this.g = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    const at = (e: PointerEvent): [number, number] => {
      const r = canvas.getBoundingClientRect();
      return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
    };
    canvas.addEventListener('pointerdown', (e) => { canvas.setPointerCapture(e.pointerId); this.last = at(e); this.line(this.last, this.last); });
    canvas.addEventListener('pointermove', (e) => { if (this.last) { const p = at(e); this.line(this.last, p); this.last = p; } });
    const end = () => { if (this.last) { this.last = undefined; onStroke(); } };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  clear(): void {
    this.g.fillStyle = '#000';
    this.g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
  }

  private line(a: [number, number], b: [number, number]) {
    const g = this.g;
    g.strokeStyle = '#fff'; g.lineWidth = this.canvas.width / 14; g.lineCap = 'round'; g.lineJoin = 'round';
    g.beginPath(); g.moveTo(...a); g.lineTo(...b); g.stroke();
    this.inked = true;
  }

  /** The drawing as 28x28 floats in [0, 1], MNIST's framing; undefined while the pad is empty. */
  mnistImage(): Float32Array | undefined {
    if (!this.inked) return undefined;
    const { width: w, height: h } = this.canvas, px = this.g.getImageData(0, 0, w, h).data;
    let x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (px[(y * w + x) * 4] > 0) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    if (x1 < 0) return undefined;
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1, scale = 20 / Math.max(bw, bh);
    const small = document.createElement('canvas'); small.width = small.height = 28;
    const s = small.getContext('2d', { willReadFrequently: true })!;
    s.fillStyle = '#000'; s.fillRect(0, 0, 28, 28);
    s.drawImage(this.canvas, x0, y0, bw, bh, 14 - (bw * scale) / 2, 14 - (bh * scale) / 2, bw * scale, bh * scale);
    const d = s.getImageData(0, 0, 28, 28).data, img = new Float32Array(28 * 28);
    let m = 0, mx = 0, my = 0;
    for (let i = 0; i < img.length; i++) { img[i] = d[i * 4] / 255; m += img[i]; mx += img[i] * (i % 28); my += img[i] * Math.floor(i / 28); }
    const dx = Math.round(14 - mx / m), dy = Math.round(14 - my / m), out = new Float32Array(28 * 28);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) out[y * 28 + x] = img[sy * 28 + sx];
    }
    return out;
  }
}
