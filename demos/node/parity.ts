// The Boolean parity of N inputs, X1 ⊕ X2 ⊕ ... ⊕ XN: the course's example (slides "Worst case" and "Using deep
// network: Parity function on N inputs") of a function that one hidden layer represents only at great width
// (2^(N-1) units, (N+2)·2^(N-1) weights and biases in its one-unit-per-true-row construction), while a deep network, a
// tree of XORs of 3 threshold units each, needs 3(N-1) units and 9(N-1) weights and biases.
//
// What reproduces, and what does not:
// - The representation claim, by construction: the deck's deep tree, built from step units with hand-set weights,
//   computes parity of N bits exactly with 9(N-1) parameters (63 for N = 8).
// - The same architecture trained by gradient descent does not find that solution at N = 8: it stays near chance,
//   while shallow networks of the same budget (and wider ones) fit most rows. Parity is the classic hard case for
//   gradient descent: every subset of fewer than N bits is uncorrelated with the label, so at a random start the
//   gradient carries almost no signal about the one subset that matters, and the deep tree's product-like blocks
//   make that worse. The slide is about how many units are needed, not about what gradient descent finds, and the
//   demo says so rather than showing a trained deep net winning.
// Run: npm run demo:parity   (options: --bits N  --steps S  --backend cpu|webgpu  --plot FILE.svg)
import { parseArgs } from 'node:util';
import { input, Tensor, grad, Sequential, Linear, Tanh, Rng, createBackend, Variable } from '../../src/index.js';
import { Adam } from '../../src/optim/index.js';
import * as ops from '../../src/graph/ops.js';
import { bceWithLogits, step } from '../../src/graph/activations.js';
import { Module } from '../../src/nn/module.js';
import { initWeights } from '../../src/nn/init.js';
import type { Backend } from '../../src/backends/backend.js';
import { plotSvg } from '../../src/util/plot_svg.js';
import { writeText, isMain } from './images.js';

/** The 2^N rows of the truth table, inputs as ±1 (centred inputs train faster), target 1 for an odd number of ones. */
export function parityTable(N: number): { X: Float32Array; Y: Float32Array; rows: number } {
  const rows = 2 ** N, X = new Float32Array(rows * N), Y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let ones = 0;
    for (let b = 0; b < N; b++) { const bit = (r >> b) & 1; X[r * N + b] = bit ? 1 : -1; ones += bit; }
    Y[r] = ones % 2;
  }
  return { X, Y, rows };
}

/**
 * One level of the deck's XOR tree: k blocks, block j reading inputs 2j and 2j+1 through 2 hidden units and 1 output
 * unit (9 parameters). `act` is tanh for training, step for the construction; the last level leaves its output linear.
 */
class XorLevel extends Module {
  readonly w1: Variable; readonly b1: Variable; readonly w2: Variable; readonly b2: Variable;
  constructor(readonly k: number, rng: Rng, readonly act: (t: Tensor) => Tensor, readonly last: boolean) {
    super();
    this.w1 = new Variable(initWeights('xavier', k * 4, 2, 2, rng), [k, 2, 2], `xor${k}.w1`); this.b1 = Variable.zeros([k, 1, 2], `xor${k}.b1`);
    this.w2 = new Variable(initWeights('xavier', k * 2, 2, 1, rng), [k, 2, 1], `xor${k}.w2`); this.b2 = Variable.zeros([k, 1, 1], `xor${k}.b2`);
  }
  forward(x: Tensor): Tensor {
    const B = x.shape[0];
    const pairs = ops.transpose(ops.reshape(x, [B, this.k, 2]), [1, 0, 2]); // [k, B, 2]: one batched product per block
    const h = this.act(ops.add(ops.matmul(pairs, this.w1.tensor), this.b1.tensor));
    const o = ops.add(ops.matmul(h, this.w2.tensor), this.b2.tensor);
    return ops.reshape(ops.transpose(this.last ? o : this.act(o), [1, 0, 2]), [B, this.k]);
  }
  override parameters(): Variable[] { return [this.w1, this.b1, this.w2, this.b2]; }
}

/** The XOR tree over N = 2^d inputs: N/2 blocks, then N/4, ..., then 1; 3(N-1) units, 9(N-1) parameters. */
export function xorTree(N: number, rng: Rng, act: (t: Tensor) => Tensor = ops.tanh): Sequential {
  if (!Number.isInteger(Math.log2(N)) || N < 2) throw new RangeError(`xorTree: N must be a power of 2 >= 2, got ${N}`);
  const levels: Module[] = [];
  for (let k = N / 2; k >= 1; k /= 2) levels.push(new XorLevel(k, rng, act, k === 1));
  return new Sequential(...levels);
}

export const paramCount = (m: Module) => m.parameters().reduce((s, p) => s + p.size, 0);

/**
 * The deck's construction, every block the same: h1 = step(a - b - t) (a ∧ ¬b), h2 = step(b - a - t) (¬a ∧ b),
 * out = step(h1 + h2 - 0.5) (h1 ∨ h2), with t = 1 on the ±1 inputs and 0.5 on the 0/1 outputs of the levels below;
 * the root's h1 + h2 - 0.5 is left as the logit. Returns the accuracy on the truth table (1 when it computes parity)
 * and the parameter count.
 */
export async function constructedTree(be: Backend, N: number): Promise<{ accuracy: number; params: number }> {
  const { X, Y, rows } = parityTable(N);
  const tree = xorTree(N, new Rng(0), step);
  (tree.layers as XorLevel[]).forEach((level, depth) => {
    const k = level.k;
    be.writeVariable(level.w1, new Float32Array(k * 4).map((_, i) => [1, -1, -1, 1][i % 4]));
    be.writeVariable(level.b1, new Float32Array(k * 2).fill(depth === 0 ? -1 : -0.5));
    be.writeVariable(level.w2, new Float32Array(k * 2).fill(1));
    be.writeVariable(level.b2, new Float32Array(k).fill(-0.5));
  });
  const x = input([rows, N], 'f32', 'x'), ex = be.compile([tree.forward(x)]);
  ex.run(new Map([[x, X]]));
  const z = await ex.read(ex.plan.outputs[0]);
  ex.dispose();
  let right = 0;
  for (let i = 0; i < rows; i++) if ((z[i] > 0 ? 1 : 0) === Y[i]) right++;
  return { accuracy: right / rows, params: paramCount(tree) };
}

function shallow(N: number, h: number, rng: Rng): Module {
  return new Sequential(new Linear(N, h, { rng, init: 'xavier' }), Tanh(), new Linear(h, 1, { rng, init: 'xavier' }));
}

export interface ParityRun { name: string; params: number; steps: number[]; acc: number[]; solvedAt?: number }

/** Full-batch Adam on the whole truth table; accuracy every `every` steps. */
export async function trainParity(be: Backend, N: number, name: string, model: Module, steps: number, every = 50, lr = 0.02): Promise<ParityRun> {
  const { X, Y, rows } = parityTable(N);
  const x = input([rows, N], 'f32', 'x'), y = input([rows, 1], 'f32', 'y');
  const logits = model.forward(x), loss = bceWithLogits(logits, y), params = model.parameters(), opt = new Adam({ lr });
  const ex = be.compile([loss, logits], opt.updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map<Tensor, Float32Array>([[x, X], [y, Y]]);
  const r: ParityRun = { name, params: paramCount(model), steps: [], acc: [] };
  for (let s = 1; s <= steps; s++) {
    opt.beginStep?.(s);
    ex.run(feeds);
    if (s % every && s !== steps) continue;
    const z = await ex.read(logits);
    let right = 0;
    for (let i = 0; i < rows; i++) if ((z[i] > 0 ? 1 : 0) === Y[i]) right++;
    r.acc.push(right / rows); r.steps.push(s);
    if (right === rows && r.solvedAt === undefined) r.solvedAt = s;
  }
  ex.dispose();
  return r;
}

/** The deck's deep tree trained, shallow nets at its budget, at N units and at 2^(N-1) units. */
export function parityConfigs(N: number): { name: string; make: (rng: Rng) => Module }[] {
  const budget = 9 * (N - 1), matched = Math.max(1, Math.floor((budget - 1) / (N + 2)));
  return [
    { name: `deep XOR tree, 3(N-1) = ${3 * (N - 1)} units`, make: (rng) => xorTree(N, rng) },
    { name: `shallow ${matched} units (same budget)`, make: (rng) => shallow(N, matched, rng) },
    { name: `shallow ${N} units`, make: (rng) => shallow(N, N, rng) },
    { name: `shallow 2^(N-1) = ${2 ** (N - 1)} units`, make: (rng) => shallow(N, 2 ** (N - 1), rng) },
  ];
}

if (isMain('parity')) {
  const { values: a } = parseArgs({ options: { bits: { type: 'string', default: '8' }, steps: { type: 'string', default: '3000' }, backend: { type: 'string', default: 'cpu' }, plot: { type: 'string', default: 'runs/parity.svg' } } });
  const N = Number(a.bits), STEPS = Number(a.steps);
  const be = await createBackend(a.backend === 'webgpu' ? 'webgpu' : 'cpu');
  const c = await constructedTree(be, N);
  console.log(`parity of ${N} bits (${2 ** N} rows), on ${be.name}`);
  console.log(`  constructed deep XOR tree of step units: ${c.params} parameters = 9(N-1), accuracy ${(100 * c.accuracy).toFixed(1)}%; the shallow construction needs ${(N + 2) * 2 ** (N - 1)} = (N+2)·2^(N-1)`);
  console.log(`  trained by full-batch Adam (lr 0.02), ${STEPS} steps, tanh units:`);
  const runs: ParityRun[] = [];
  for (const cfg of parityConfigs(N)) {
    const r = await trainParity(be, N, cfg.name, cfg.make(new Rng(1)), STEPS);
    runs.push(r);
    console.log(`    ${r.name.padEnd(34)} ${String(r.params).padStart(5)} parameters  accuracy ${(100 * r.acc.at(-1)!).toFixed(1).padStart(5)}%  ${r.solvedAt ? `all rows right from step ${r.solvedAt}` : 'not solved'}`);
  }
  console.log('  The deep tree represents parity with the fewest parameters, but gradient descent does not find it: parity gives the');
  console.log('  gradient no signal from any smaller set of bits. The slide counts units needed; it does not claim training finds them.');
  writeText(a.plot!, plotSvg([{
    title: `Parity of ${N} bits: trained accuracy (the constructed ${c.params}-parameter deep tree: ${(100 * c.accuracy).toFixed(0)}%)`, xLabel: 'step', yLabel: `accuracy on the ${2 ** N} rows`, yInclude: [0.4, 1],
    series: runs.map((r) => ({ name: `${r.name}, ${r.params} params`, x: r.steps, y: r.acc })),
  }], { panelWidth: 820, panelHeight: 400 }));
  console.log(`wrote ${a.plot}`);
  be.dispose();
}
