// The Boolean parity of N inputs, X1 ⊕ X2 ⊕ ... ⊕ XN, the course's example of a function a single hidden layer
// represents only at great width (2^(N-1) units in its one-unit-per-true-row construction, (N+2)·2^(N-1) weights),
// while a deep network needs 3(N-1) units. Here gradient descent, not a construction, finds the weights: a deep narrow
// network, a shallow one with about as many parameters, and a shallow one at the course's width, all fitted to the
// 2^N rows of the truth table with the same optimizer and budget. Prints parameter counts and accuracy side by side
// and plots accuracy against steps.
// Run: npm run demo:parity   (options: --bits N  --steps S  --backend cpu|webgpu  --plot FILE.svg)
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { input, Tensor, grad, Sequential, Linear, Tanh, Rng, createBackend } from '../../src/index.js';
import { Adam } from '../../src/optim/index.js';
import { bceWithLogits } from '../../src/graph/activations.js';
import type { Module } from '../../src/nn/module.js';
import { plotSvg } from '../../src/util/plot_svg.js';

const { values: a } = parseArgs({ options: { bits: { type: 'string', default: '8' }, steps: { type: 'string', default: '1000' }, backend: { type: 'string', default: 'cpu' }, plot: { type: 'string', default: 'runs/parity.svg' } } });
const N = Number(a.bits), STEPS = Number(a.steps), EVERY = 50;
const rows = 2 ** N;

// Inputs as ±1 (centred inputs train faster than 0/1), target 1 when an odd number of bits are set.
const X = new Float32Array(rows * N), Y = new Float32Array(rows);
for (let r = 0; r < rows; r++) {
  let ones = 0;
  for (let b = 0; b < N; b++) { const bit = (r >> b) & 1; X[r * N + b] = bit ? 1 : -1; ones += bit; }
  Y[r] = ones % 2;
}

/** A tanh MLP with the given hidden widths and one output logit. */
function net(hidden: number[], rng: Rng): Module {
  const sizes = [N, ...hidden, 1], layers: Module[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i], sizes[i + 1], { rng, init: 'xavier' }));
    if (i + 2 < sizes.length) layers.push(Tanh());
  }
  return new Sequential(...layers);
}
const paramCount = (m: Module) => m.parameters().reduce((s, p) => s + p.size, 0);

// Depth against width: a deep network of narrow layers (N/2 units, fewer than the N+1 a single layer needs even in
// the cleverest construction); one hidden layer as narrow; one hidden layer with the deep network's parameter budget;
// and one hidden layer at the course's width 2^(N-1).
const w = Math.max(2, N / 2);
const deep = [w, w, w, w];
const deepParams = paramCount(net(deep, new Rng(1)));
const matched = Math.max(1, Math.round((deepParams - 1) / (N + 2)));
const configs = [
  { name: `deep narrow ${deep.join('-')}`, hidden: deep },
  { name: `shallow ${w} (as narrow)`, hidden: [w] },
  { name: `shallow ${matched} (same budget)`, hidden: [matched] },
  { name: `shallow ${2 ** (N - 1)} (2^(N-1))`, hidden: [2 ** (N - 1)] },
];

const backend = await createBackend(a.backend === 'webgpu' ? 'webgpu' : 'cpu');
console.log(`parity of ${N} bits: ${rows} rows, full-batch Adam (lr 0.01), ${STEPS} steps, tanh hidden layers, on ${backend.name}`);
const results: { name: string; params: number; acc: number[]; steps: number[]; solvedAt?: number; loss: number }[] = [];
for (const c of configs) {
  const model = net(c.hidden, new Rng(1));
  const x = input([rows, N], 'f32', 'x'), y = input([rows, 1], 'f32', 'y');
  const logits = model.forward(x);
  const loss = bceWithLogits(logits, y);
  const params = model.parameters();
  const step = backend.compile([loss, logits], new Adam({ lr: 0.01 }).updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map<Tensor, Float32Array>([[x, X], [y, Y]]);
  const r = { name: c.name, params: paramCount(model), acc: [] as number[], steps: [] as number[], solvedAt: undefined as number | undefined, loss: NaN };
  for (let s = 1; s <= STEPS; s++) {
    step.run(feeds);
    if (s % EVERY && s !== STEPS) continue;
    const z = await step.read(logits);
    let right = 0;
    for (let i = 0; i < rows; i++) if ((z[i] > 0 ? 1 : 0) === Y[i]) right++;
    r.acc.push(right / rows); r.steps.push(s);
    if (right === rows && r.solvedAt === undefined) r.solvedAt = s;
  }
  r.loss = (await step.read(loss))[0];
  step.dispose();
  results.push(r);
  console.log(`  ${r.name.padEnd(30)} ${String(r.params).padStart(6)} parameters  accuracy ${(r.acc[r.acc.length - 1] * 100).toFixed(1).padStart(5)}%  loss ${r.loss.toFixed(4)}  ${r.solvedAt ? `all ${rows} rows right from step ${r.solvedAt}` : 'not solved'}`);
}
backend.dispose();

mkdirSync(dirname(a.plot!), { recursive: true });
writeFileSync(a.plot!, plotSvg([{
  title: `Parity of ${N} bits: deep narrow vs shallow`, xLabel: 'step', yLabel: `accuracy on the ${rows} rows`, yInclude: [0.4, 1],
  series: results.map((r) => ({ name: `${r.name}, ${r.params} params`, x: r.steps, y: r.acc })),
}], { panelWidth: 820, panelHeight: 400 }));
console.log(`wrote ${a.plot}`);
