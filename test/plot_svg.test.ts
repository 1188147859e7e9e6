// The SVG chart writer: well-formed XML, one polyline per series with one point per finite value, legends and
// ticks, log axes, escaping, and clear errors.
import { describe, it, expect } from 'vitest';
import { plotSvg, formatTick } from '../src/util/plot_svg.js';

/** Well-formedness: every tag closes in order, attributes are quoted, text has no raw '<' or stray '&'. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null, end = 0;
  while ((m = re.exec(svg))) {
    end = re.lastIndex;
    const [, close, tag, , self, text] = m;
    if (text !== undefined) { expect(text).not.toMatch(/&(?!amp;|lt;|gt;|quot;)/); continue; }
    if (close) expect(stack.pop()).toBe(tag);
    else if (!self) stack.push(tag);
  }
  expect(end).toBe(svg.length); // the tokenizer stopped nowhere: no malformed tag
  expect(stack).toEqual([]);
}

const polylines = (svg: string) => [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));

describe('plotSvg', () => {
  it('draws each series as a polyline with its points, a legend entry, axis labels and ticks', () => {
    const svg = plotSvg([
      { title: 'loss <train & test>', xLabel: 'step', yLabel: 'loss', series: [{ name: 'train', x: [0, 50, 100, 150], y: [2.3, 1.1, 0.6, 0.4] }, { name: 'test "b"', x: [0, 150], y: [2.2, 0.5] }] },
      { title: 'accuracy', xLabel: 'epoch', series: [{ name: 'test', x: [1, 2, 3], y: [0.9, 0.95, NaN] }], yInclude: [1] },
    ]);
    assertWellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('loss &lt;train &amp; test&gt;');
    expect(svg).toContain('data-name="test &quot;b&quot;"');
    const lines = polylines(svg);
    expect(lines.map((l) => l.length)).toEqual([4, 2, 2]); // the NaN point is left out
    // y grows downwards in SVG: a falling loss is a rising polyline
    const train = lines[0];
    for (let i = 1; i < train.length; i++) { expect(train[i][0]).toBeGreaterThan(train[i - 1][0]); expect(train[i][1]).toBeGreaterThan(train[i - 1][1]); }
    for (const name of ['train', 'test', 'step', 'epoch', 'accuracy']) expect(svg).toContain(`>${name}<`);
    expect(svg).toContain('>1<'); // yInclude reaches 1: a tick there
    expect(svg).toMatch(/width="1200"/); // two panels side by side
  });

  it('log x axis: points evenly spaced for doubling sizes, and ticks at the given positions', () => {
    const svg = plotSvg([{ series: [{ name: 'gemm', x: [256, 512, 1024, 2048], y: [2, 3, 3.5, 3.7] }], logX: true, xTicks: [256, 512, 1024, 2048], xLabel: 'n' }]);
    assertWellFormed(svg);
    const [p] = polylines(svg);
    const gaps = p.slice(1).map((q, i) => q[0] - p[i][0]);
    for (const g of gaps) expect(g).toBeCloseTo(gaps[0], 1);
    for (const t of ['256', '512', '1024', '2048']) expect(svg).toContain(`>${t}<`);
    expect(svg).toContain('n (log scale)');
  });

  it('tick labels are short', () => {
    expect([0, 0.001, 12.5, 1024, 25000, 250000, 2e6, 0.30000000000000004].map(formatTick)).toEqual(['0', '0.001', '12.5', '1024', '25000', '250k', '2M', '0.3']);
  });

  it('errors name the chart and series', () => {
    expect(() => plotSvg([])).toThrow(/no charts given/);
    expect(() => plotSvg([{ series: [{ name: 'a', x: [1, 2], y: [1] }] }])).toThrow(/chart 0, series 0 \('a'\) has 2 x values and 1 y values/);
    expect(() => plotSvg([{ logX: true, series: [{ name: 'a', x: [0, 2], y: [1, 2] }] }])).toThrow(/x value <= 0 on a log x axis/);
  });

  it('an empty chart says so instead of drawing nothing', () => {
    const svg = plotSvg([{ series: [] }]);
    assertWellFormed(svg);
    expect(svg).toContain('no data');
  });
});
