// Line charts as standalone SVG, without dependencies: training curves (`wgtrain train --plot`), benchmark charts
// (`wgtrain bench report`) and the demos. One or more panels side by side, each with its own axes and legend.

export interface Series { name: string; x: number[]; y: number[] }

export interface Chart {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  series: Series[];
  /** Logarithmic x axis (every x must be > 0). */
  logX?: boolean;
  /** Tick positions for x; by default "nice" round numbers (or powers of 10 / 1-2-5 steps on a log axis). */
  xTicks?: number[];
  /** Force the y range to include these values (e.g. 0, or 1 for an accuracy). */
  yInclude?: number[];
}

export interface PlotOptions { panelWidth?: number; panelHeight?: number; columns?: number }

// Tableau 10: distinguishable, and readable by most colour-blind viewers.
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r2 = (v: number) => Math.round(v * 100) / 100;

/** A step of 1, 2 or 5 times a power of ten that cuts [lo, hi] into about `n` intervals. */
function niceStep(span: number, n: number): number {
  const raw = span / n, p = 10 ** Math.floor(Math.log10(raw)), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

function linearTicks(lo: number, hi: number): { lo: number; hi: number; ticks: number[] } {
  if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
  const step = niceStep(hi - lo, 5);
  const a = Math.floor(lo / step) * step, b = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let i = 0; a + i * step <= b + step * 1e-9; i++) ticks.push(+(a + i * step).toPrecision(12));
  return { lo: a, hi: b, ticks };
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const decades = Math.log10(hi / lo);
  const mult = decades > 3 ? [1] : decades > 1.2 ? [1, 2, 5] : [1, 1.5, 2, 3, 5, 7];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mult) { const v = +(m * 10 ** e).toPrecision(6); if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v); }
  }
  return out;
}

/** Short tick labels: 1024 (sizes stay exact), 250k, 2M, 0.001, 12.5. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e5) return `${+(v / 1e3).toPrecision(3)}k`;
  if (Number.isInteger(v)) return `${v}`;
  return `${+v.toPrecision(3)}`;
}

function checkChart(c: Chart, k: number): void {
  c.series.forEach((s, i) => {
    if (s.x.length !== s.y.length) throw new Error(`plotSvg: chart ${k}, series ${i} ('${s.name}') has ${s.x.length} x values and ${s.y.length} y values (expected the same number)`);
    if (c.logX && s.x.some((v) => !(v > 0))) throw new Error(`plotSvg: chart ${k}, series ${i} ('${s.name}') has an x value <= 0 on a log x axis (expected every x > 0)`);
  });
}

function panel(c: Chart, ox: number, oy: number, W: number, H: number): string {
  const finite = (s: Series) => s.x.map((x, i) => [x, s.y[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const pts = c.series.flatMap(finite);
  const xs = pts.map((p) => p[0]), ys = [...pts.map((p) => p[1]), ...(c.yInclude ?? [])];
  // The legend sits right of the plot area, so it never hides a line.
  const legendW = c.series.length ? Math.max(...c.series.map((s) => s.name.length)) * 6.6 + 34 : 0;
  const left = 64, right = 16 + (legendW && legendW + 10), top = c.title ? 34 : 14, bottom = 46;
  const pw = W - left - right, ph = H - top - bottom;
  const out: string[] = [`<g transform="translate(${ox},${oy})">`];
  if (c.title) out.push(`<text x="${left + pw / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600" fill="#222">${esc(c.title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="#fff" stroke="#999" stroke-width="1"/>`);
  if (!pts.length) {
    out.push(`<text x="${left + pw / 2}" y="${top + ph / 2}" text-anchor="middle" font-size="13" fill="#777">no data</text></g>`);
    return out.join('\n');
  }

  const xmin = Math.min(...xs), xmax = Math.max(...xs);
  let fx: (v: number) => number, xt: number[];
  if (c.logX) {
    const [a, b] = xmin === xmax ? [xmin / 2, xmax * 2] : [xmin, xmax];
    const la = Math.log10(a), lb = Math.log10(b), pad = (lb - la) * 0.04;
    fx = (v) => left + ((Math.log10(v) - la + pad) / (lb - la + 2 * pad)) * pw;
    xt = c.xTicks ?? logTicks(a, b);
  } else {
    const t = linearTicks(xmin, xmax);
    const [a, b] = c.xTicks ? [Math.min(xmin, ...c.xTicks), Math.max(xmax, ...c.xTicks)] : [t.lo, t.hi];
    fx = (v) => left + ((v - a) / (b - a || 1)) * pw;
    xt = c.xTicks ?? t.ticks;
  }
  const yt = linearTicks(Math.min(...ys), Math.max(...ys));
  const fy = (v: number) => top + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;

  for (const v of yt.ticks) {
    const y = r2(fy(v));
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${y}" y2="${y}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#444">${formatTick(v)}</text>`);
  }
  for (const v of xt) {
    const x = r2(fx(v));
    if (x < left - 0.5 || x > left + pw + 0.5) continue;
    out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${x}" x2="${x}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#999"/>`);
    out.push(`<text x="${x}" y="${top + ph + 16}" text-anchor="middle" font-size="11" fill="#444">${formatTick(v)}</text>`);
  }
  if (c.xLabel) out.push(`<text x="${left + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="12" fill="#222">${esc(c.xLabel)}${c.logX ? ' (log scale)' : ''}</text>`);
  if (c.yLabel) out.push(`<text transform="translate(16,${top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" fill="#222">${esc(c.yLabel)}</text>`);

  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const p = finite(s).sort((a, b) => a[0] - b[0]).map(([x, y]) => `${r2(fx(x))},${r2(fy(y))}`);
    out.push(`<g class="series" data-name="${esc(s.name)}">`);
    if (p.length > 1) out.push(`<polyline points="${p.join(' ')}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`);
    // Markers only where points are few enough to tell apart; a single point always gets one.
    if (p.length <= 40) for (const q of p) { const [x, y] = q.split(','); out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`); }
    out.push('</g>');
  });

  if (legendW) {
    const lw = legendW, lh = c.series.length * 18 + 8;
    const lx = left + pw + 10, ly = top;
    out.push(`<rect x="${r2(lx)}" y="${ly}" width="${r2(lw)}" height="${lh}" rx="4" fill="#fff" stroke="#ddd"/>`);
    c.series.forEach((s, i) => {
      const y = ly + 4 + i * 18 + 9;
      out.push(`<line x1="${r2(lx + 8)}" x2="${r2(lx + 24)}" y1="${y}" y2="${y}" stroke="${COLORS[i % COLORS.length]}" stroke-width="3"/>`);
      out.push(`<text x="${r2(lx + 30)}" y="${y + 4}" font-size="11" fill="#222">${esc(s.name)}</text>`);
    });
  }
  out.push('</g>');
  return out.join('\n');
}

/** One SVG document with the charts laid out in a grid (one row by default). */
export function plotSvg(charts: Chart[], o: PlotOptions = {}): string {
  if (!charts.length) throw new Error('plotSvg: no charts given (expected at least one)');
  charts.forEach(checkChart);
  const W = o.panelWidth ?? 600, H = o.panelHeight ?? 340, cols = Math.min(o.columns ?? charts.length, charts.length);
  const rows = Math.ceil(charts.length / cols);
  const body = charts.map((c, k) => panel(c, (k % cols) * W, Math.floor(k / cols) * H, W, H));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W}" height="${rows * H}" viewBox="0 0 ${cols * W} ${rows * H}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
