// The perceptron era (course 003): one threshold unit trained by Rosenblatt's perceptron rule and by the delta rule
// on AND, OR and XOR. Both learn AND and OR; neither can learn XOR, which no single linear threshold computes
// (Minsky and Papert). Two layers can: the course's construction XOR = OR(AND(x1, ¬x2), AND(¬x1, x2)) from threshold
// units with hand-set weights, and a 2-4-1 network whose weights backpropagation finds.
//
// The perceptron rule is plain SGD (learning rate 1, one pattern at a time, cycling through them) on the perceptron
// criterion Σ (step(z) - y)·z, whose gradient is (step(z) - y)·x: w changes only on a misclassified pattern, by ±x.
// The delta rule is SGD on ½(y - z)² of the linear unit: w += η (y - wᵀx) x; it is read through a 0.5 threshold.
// Writes runs/perceptron/regions.png (each model's output over [-0.5, 1.5]², the four patterns marked) and errors.svg.
// Run: npm run demo:perceptron   (options: --backend cpu|webgpu  --out DIR)
import { parseArgs } from 'node:util';
import { input, Tensor, ops, grad, Sequential, Linear, Tanh, SGD, Adam, Rng, createBackend, Variable } from '../../src/index.js';
import { step, perceptronLoss, bceWithLogits } from '../../src/graph/activations.js';
import type { Backend } from '../../src/backends/backend.js';
import { plotSvg } from '../../src/util/plot_svg.js';
import { writeGridPng, writeText, isMain } from './images.js';

export const PATTERNS = Float32Array.from([0, 0, 0, 1, 1, 0, 1, 1]);
export const FUNCTIONS = { AND: [0, 0, 0, 1], OR: [0, 1, 1, 1], XOR: [0, 1, 1, 0] } as const;
export type BoolFn = keyof typeof FUNCTIONS;
type Rule = 'perceptron' | 'delta';

/** A grid of points over [-0.5, 1.5]² (side x side), for drawing decision regions. */
function plane(side: number): Float32Array {
  const p = new Float32Array(side * side * 2);
  for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) { p[(i * side + j) * 2] = -0.5 + (2 * j) / (side - 1); p[(i * side + j) * 2 + 1] = 1.5 - (2 * i) / (side - 1); }
  return p;
}

export interface UnitResult { fn: BoolFn; rule: Rule; errorsPerEpoch: number[]; learned: boolean; region: Float32Array }

/** One threshold unit on `fn`, trained one pattern at a time in order for up to `epochs` passes (stops at 0 errors). */
export async function trainUnit(be: Backend, fn: BoolFn, rule: Rule, epochs: number, side = 48): Promise<UnitResult> {
  const w = new Variable(new Float32Array(2), [2, 1], 'w'), b = new Variable(new Float32Array(1), [1], 'b');
  const x = input([1, 2], 'f32', 'x'), y = input([1, 1], 'f32', 'y');
  const z = ops.add(ops.matmul(x, w.tensor), b.tensor);
  const loss = rule === 'perceptron' ? perceptronLoss(z, y) : ops.mul(ops.sum(ops.mul(ops.sub(z, y), ops.sub(z, y))), 0.5);
  const opt = new SGD({ lr: rule === 'perceptron' ? 1 : 0.1 });
  const stepEx = be.compile([loss], opt.updates([w, b], grad(loss, [w.tensor, b.tensor])));
  // The unit's decision on every pattern, and on the plane for the picture: step(z) or, for the delta rule, z > 0.5.
  const decide = (X: Tensor) => step(ops.sub(ops.add(ops.matmul(X, w.tensor), b.tensor), rule === 'perceptron' ? 0 : 0.5));
  const all = input([4, 2], 'f32', 'patterns'), grid = input([side * side, 2], 'f32', 'plane');
  const evalEx = be.compile([decide(all), decide(grid)]);
  const target = FUNCTIONS[fn], errorsPerEpoch: number[] = [];
  const errors = async () => { evalEx.run(new Map([[all, PATTERNS], [grid, plane(side)]])); const d = await evalEx.read(evalEx.plan.outputs[0]); return target.filter((t, i) => d[i] !== t).length; };
  for (let e = 0; e < epochs; e++) {
    for (let i = 0; i < 4; i++) stepEx.run(new Map([[x, PATTERNS.subarray(2 * i, 2 * i + 2)], [y, Float32Array.of(target[i])]]));
    errorsPerEpoch.push(await errors());
    if (errorsPerEpoch.at(-1) === 0 && rule === 'perceptron') break; // the perceptron has converged: no update would follow
  }
  const region = (await evalEx.read(evalEx.plan.outputs[1])) as Float32Array;
  stepEx.dispose(); evalEx.dispose();
  return { fn, rule, errorsPerEpoch, learned: errorsPerEpoch.at(-1) === 0, region };
}

/** The course's two-layer threshold network for XOR, weights set by hand: OR(AND(x1, ¬x2), AND(¬x1, x2)). */
export async function handBuiltXor(be: Backend, side = 48): Promise<{ outputs: number[]; region: Float32Array }> {
  // Hidden unit 1 fires for x1 - x2 > 0.5 (x1 ∧ ¬x2), unit 2 for x2 - x1 > 0.5; the output fires for h1 + h2 > 0.5.
  const X = input([4, 2], 'f32', 'patterns'), G = input([side * side, 2], 'f32', 'plane');
  const w1 = input([2, 2], 'f32', 'w1'), w2 = input([2, 1], 'f32', 'w2');
  const f = (P: Tensor) => step(ops.sub(ops.matmul(step(ops.sub(ops.matmul(P, w1), 0.5)), w2), 0.5));
  const ex = be.compile([f(X), f(G)]);
  ex.run(new Map([[X, PATTERNS], [G, plane(side)], [w1, Float32Array.of(1, -1, -1, 1)], [w2, Float32Array.of(1, 1)]]));
  const outputs = Array.from(await ex.read(ex.plan.outputs[0]));
  const region = (await ex.read(ex.plan.outputs[1])) as Float32Array;
  ex.dispose();
  return { outputs, region };
}

/** A 2-4-1 tanh network trained by backpropagation (Adam, full batch, binary cross-entropy) on XOR. */
export async function trainedXor(be: Backend, steps: number, side = 48): Promise<{ outputs: number[]; lossCurve: number[]; region: Float32Array }> {
  const rng = new Rng(3);
  const model = new Sequential(new Linear(2, 4, { rng, init: 'xavier' }), Tanh(), new Linear(4, 1, { rng, init: 'xavier' }));
  const X = input([4, 2], 'f32', 'x'), Y = input([4, 1], 'f32', 'y'), G = input([side * side, 2], 'f32', 'plane');
  const loss = bceWithLogits(model.forward(X), Y);
  const params = model.parameters(), opt = new Adam({ lr: 0.05 });
  const stepEx = be.compile([loss], opt.updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map([[X, PATTERNS], [Y, Float32Array.from(FUNCTIONS.XOR)]]);
  const lossCurve: number[] = [];
  for (let s = 1; s <= steps; s++) {
    opt.beginStep?.(s);
    stepEx.run(feeds);
    if (s % 20 === 0) lossCurve.push((await stepEx.read(loss))[0]);
  }
  const evalEx = be.compile([ops.sigmoid(model.forward(X)), ops.sigmoid(model.forward(G))]);
  evalEx.run(new Map([[X, PATTERNS], [G, plane(side)]]));
  const outputs = Array.from(await evalEx.read(evalEx.plan.outputs[0]));
  const region = (await evalEx.read(evalEx.plan.outputs[1])) as Float32Array;
  stepEx.dispose(); evalEx.dispose();
  return { outputs, lossCurve, region };
}

/** Mark the four patterns on a decision-region image: a dark square for target 0, a light one for 1, ringed. */
function markPatterns(region: Float32Array, side: number, target: readonly number[]): Float32Array {
  const img = Float32Array.from(region, (v) => 0.25 + 0.5 * v); // regions in mid greys, so the marks stand out
  for (let k = 0; k < 4; k++) {
    const cx = Math.round(((PATTERNS[2 * k] + 0.5) / 2) * (side - 1)), cy = Math.round(((1.5 - PATTERNS[2 * k + 1]) / 2) * (side - 1));
    for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) {
      const yy = cy + dy, xx = cx + dx;
      if (yy < 0 || yy >= side || xx < 0 || xx >= side) continue;
      const ring = Math.max(Math.abs(dx), Math.abs(dy)) === 3;
      img[yy * side + xx] = ring ? 1 - target[k] : target[k];
    }
  }
  return img;
}

export async function runPerceptronDemo(be: Backend, o: { epochs?: number; xorSteps?: number; out?: string } = {}) {
  const epochs = o.epochs ?? 50, side = 48;
  const units: UnitResult[] = [];
  for (const rule of ['perceptron', 'delta'] as const) for (const fn of ['AND', 'OR', 'XOR'] as const) units.push(await trainUnit(be, fn, rule, epochs, side));
  const hand = await handBuiltXor(be, side);
  const mlp = await trainedXor(be, o.xorSteps ?? 400, side);
  if (o.out) {
    // Row 1: perceptron rule on AND, OR, XOR; row 2: delta rule; row 3: hand-built two-layer XOR, trained 2-4-1 XOR.
    const panels = [...units.map((u) => markPatterns(u.region, side, FUNCTIONS[u.fn])), markPatterns(hand.region, side, FUNCTIONS.XOR), markPatterns(mlp.region, side, FUNCTIONS.XOR)];
    const flat = new Float32Array(panels.length * side * side);
    panels.forEach((p, i) => flat.set(p, i * side * side));
    writeGridPng(`${o.out}/regions.png`, flat, panels.length, side, side, 3, 3);
    writeText(`${o.out}/errors.svg`, plotSvg([
      { title: 'single threshold unit: misclassified patterns per epoch', xLabel: 'epoch', yLabel: 'errors (of 4)', yInclude: [0, 4],
        series: units.map((u) => ({ name: `${u.rule} ${u.fn}`, x: u.errorsPerEpoch.map((_, i) => i + 1), y: u.errorsPerEpoch })) },
      { title: '2-4-1 network on XOR (backpropagation)', xLabel: 'step', yLabel: 'BCE', yInclude: [0],
        series: [{ name: 'loss', x: mlp.lossCurve.map((_, i) => 20 * (i + 1)), y: mlp.lossCurve }] },
    ]));
  }
  return { units, hand, mlp };
}

if (isMain('perceptron')) {
  const { values: a } = parseArgs({ options: { backend: { type: 'string', default: 'webgpu' }, out: { type: 'string', default: 'runs/perceptron' } } });
  const be = await createBackend(a.backend as 'cpu' | 'webgpu');
  const r = await runPerceptronDemo(be, { out: a.out });
  for (const u of r.units) {
    const first = u.errorsPerEpoch.indexOf(0) + 1;
    console.log(`${u.rule.padEnd(10)} ${u.fn.padEnd(3)} ${u.learned ? `learned: no errors from epoch ${first}` : `not learned: ${u.errorsPerEpoch.at(-1)} of 4 wrong after ${u.errorsPerEpoch.length} epochs`}`);
  }
  console.log(`two layers, hand-set threshold units, XOR: ${r.hand.outputs.join(' ')} (want 0 1 1 0)`);
  console.log(`two layers, 2-4-1 trained by backpropagation, XOR: p(1) ${r.mlp.outputs.map((p) => p.toFixed(3)).join(' ')}`);
  console.log(`wrote ${a.out}/regions.png (rows: perceptron rule, delta rule on AND OR XOR; two-layer XOR hand-set, trained) and ${a.out}/errors.svg`);
  be.dispose();
}
