// The course's universal-approximation picture: a network with one hidden layer of ReLU units is a piecewise-linear
// function with (at most) one kink per unit, so more units fit a smooth 1-D function more closely. Fits
// f(x) = sin(2πx) + 0.5·cos(5πx) on [0, 1] (200 points, full batch, Adam) with 2, 5, 20 and 100 hidden units and
// plots each fit over the target, beside the training loss.
// Run: npm run demo:approx   (options: --steps S  --backend cpu|webgpu  --out DIR)
import { parseArgs } from 'node:util';
import { input, grad, Sequential, Linear, ReLU, Adam, Rng, createBackend } from '../../src/index.js';
import * as ops from '../../src/graph/ops.js';
import type { Backend } from '../../src/backends/backend.js';
import { plotSvg, Series } from '../../src/util/plot_svg.js';
import { writeText, isMain } from './images.js';

export const target = (x: number) => Math.sin(2 * Math.PI * x) + 0.5 * Math.cos(5 * Math.PI * x);

export interface ApproxFit { hidden: number; mse: number; fit: number[]; loss: Series }

/** Fit a 1-hidden-layer ReLU network of `hidden` units to `n` evenly spaced samples of the target, full batch. */
export async function fitShallow(be: Backend, hidden: number, steps: number, n = 200): Promise<ApproxFit> {
  const xs = Float32Array.from({ length: n }, (_, i) => i / (n - 1)), ys = Float32Array.from(xs, target);
  const rng = new Rng(hidden);
  // Kinks spread over [0, 1]: the first layer's weights ±1..±3 and biases place unit k's kink -b/w inside the interval.
  const first = new Linear(1, hidden, { rng, name: 'hidden' });
  const net = new Sequential(first, ReLU(), new Linear(hidden, 1, { rng, init: 'xavier', name: 'out' }));
  const w = new Float32Array(hidden), b = new Float32Array(hidden);
  for (let k = 0; k < hidden; k++) { const s = rng.next() < 0.5 ? -1 : 1, m = 1 + 2 * rng.next(); w[k] = s * m; b[k] = -s * m * rng.next(); }
  be.writeVariable(first.weight, w); be.writeVariable(first.bias!, b);
  const x = input([n, 1], 'f32', 'x'), y = input([n, 1], 'f32', 'y');
  const pred = net.forward(x), loss = ops.mse(pred, y);
  const params = net.parameters(), opt = new Adam({ lr: 0.01 });
  const ex = be.compile([loss, pred], opt.updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map([[x, xs], [y, ys]]), curve: Series = { name: `${hidden} units`, x: [], y: [] };
  let pending: Promise<Float32Array | Int32Array> | undefined, at = 0;
  for (let s = 1; s <= steps; s++) {
    opt.beginStep?.(s);
    ex.run(feeds);
    if (s % 50 === 0) { if (pending) { curve.x.push(at); curve.y.push((await pending)[0]); } pending = ex.read(loss); at = s; }
  }
  if (pending) { curve.x.push(at); curve.y.push((await pending)[0]); }
  // The fit after the last update, and its error on a finer grid than the training points.
  const m = 1000, gx = input([m, 1], 'f32', 'grid'), evalEx = be.compile([net.forward(gx)]);
  const grid = Float32Array.from({ length: m }, (_, i) => i / (m - 1));
  evalEx.run(new Map([[gx, grid]]));
  const out = Array.from(await evalEx.read(evalEx.plan.outputs[0]));
  ex.dispose(); evalEx.dispose();
  return { hidden, mse: out.reduce((s, v, i) => s + (v - target(grid[i])) ** 2, 0) / m, fit: out, loss: curve };
}

export async function runApprox(be: Backend, o: { widths?: number[]; steps?: number; out?: string } = {}): Promise<ApproxFit[]> {
  const fits: ApproxFit[] = [];
  for (const h of o.widths ?? [2, 5, 20, 100]) fits.push(await fitShallow(be, h, o.steps ?? 3000));
  if (o.out) {
    const m = fits[0].fit.length, gx = Array.from({ length: m }, (_, i) => i / (m - 1));
    writeText(`${o.out}/fits.svg`, plotSvg([
      { title: 'one hidden ReLU layer fitting f(x) = sin 2πx + ½ cos 5πx', xLabel: 'x', yLabel: 'f(x)',
        series: [{ name: 'target', x: gx, y: gx.map(target) }, ...fits.map((f) => ({ name: `${f.hidden} units (MSE ${f.mse.toFixed(4)})`, x: gx, y: f.fit }))] },
      { title: 'training loss', xLabel: 'step', yLabel: 'MSE', series: fits.map((f) => f.loss) },
    ], { panelWidth: 520 }));
  }
  return fits;
}

if (isMain('approx')) {
  const { values: a } = parseArgs({ options: { steps: { type: 'string', default: '3000' }, backend: { type: 'string', default: 'webgpu' }, out: { type: 'string', default: 'runs/approx' } } });
  const be = await createBackend(a.backend as 'cpu' | 'webgpu');
  const fits = await runApprox(be, { steps: Number(a.steps), out: a.out });
  for (const f of fits) console.log(`${String(f.hidden).padStart(3)} hidden units: MSE ${f.mse.toFixed(5)} against the target on 1000 points`);
  console.log(`wrote ${a.out}/fits.svg`);
  be.dispose();
}
