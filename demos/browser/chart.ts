// A line chart on a canvas: enough axes to read the values, sized for the device's pixel ratio so it stays sharp.
export interface ChartOptions { color: string; label: string; yMin?: number; yMax?: number; percent?: boolean }

export function drawChart(c: HTMLCanvasElement, pts: { step: number; value: number }[], o: ChartOptions): void {
  const dpr = globalThis.devicePixelRatio || 1, W = c.clientWidth || 360, H = c.clientHeight || 180;
  if (c.width !== W * dpr) { c.width = W * dpr; c.height = H * dpr; }
  const g = c.getContext('2d')!;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  const L = 44, R = 8, T = 8, B = 22;
  const xMax = Math.max(1, ...pts.map((p) => p.step));
  const yMin = o.yMin ?? Math.min(...pts.map((p) => p.value));
  const yMax = o.yMax ?? Math.max(yMin + 1e-6, ...pts.map((p) => p.value)) * 1.05;
  const X = (s: number) => L + (s / xMax) * (W - L - R), Y = (v: number) => H - B - ((v - yMin) / (yMax - yMin)) * (H - T - B);
  g.font = '11px system-ui'; g.fillStyle = '#667'; g.strokeStyle = '#e3e6eb'; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = yMin + ((yMax - yMin) * i) / 4, y = Y(v);
    g.beginPath(); g.moveTo(L, y); g.lineTo(W - R, y); g.stroke();
    g.textAlign = 'right'; g.fillText(o.percent ? `${Math.round(v * 100)}%` : v.toFixed(2), L - 4, y + 4);
  }
  g.textAlign = 'left'; g.fillText(`step ${pts.length ? xMax : 0}`, W - R - 60, H - 6);
  g.fillText(o.label, L, H - 6);
  if (!pts.length) return;
  g.strokeStyle = o.color; g.lineWidth = 2;
  g.beginPath();
  pts.forEach((p, i) => (i ? g.lineTo(X(p.step), Y(p.value)) : g.moveTo(X(p.step), Y(p.value))));
  g.stroke();
  g.fillStyle = o.color;
  for (const p of pts) { g.beginPath(); g.arc(X(p.step), Y(p.value), 2.5, 0, 2 * Math.PI); g.fill(); }
}
