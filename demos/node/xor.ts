// XOR, the function a single perceptron cannot learn (the seeds' first counterexample), learned by a 2-8-1 tanh MLP
// with binary cross-entropy, on the CPU reference and on WebGPU from the same initial weights.
// Run: npm run demo:xor
import { input, Tensor, grad, Sequential, Linear, Tanh, SGD, Rng, CpuBackend, WebGpuBackend } from '../../src/index.js';
import { bceWithLogits } from '../../src/graph/activations.js';
import type { Backend } from '../../src/backends/backend.js';

const X = Float32Array.from([0, 0, 0, 1, 1, 0, 1, 1]);
const Y = Float32Array.from([0, 1, 1, 0]);

async function train(be: Backend): Promise<{ loss: number; predictions: number[] }> {
  const rng = new Rng(4);
  const net = new Sequential(new Linear(2, 8, { rng, init: 'xavier' }), Tanh(), new Linear(8, 1, { rng, init: 'xavier' }));
  const x = input([4, 2], 'f32', 'x'), y = input([4, 1], 'f32', 'y');
  const logits = net.forward(x);
  const loss = bceWithLogits(logits, y);
  const params = net.parameters();
  const step = be.compile([loss, logits], new SGD({ lr: 0.5, momentum: 0.9 }).updates(params, grad(loss, params.map((p) => p.tensor))));
  const feeds = new Map<Tensor, Float32Array>([[x, X], [y, Y]]);
  for (let i = 0; i < 300; i++) step.run(feeds); // 300 steps, one submit each, nothing read back until the end
  const z = await step.read(logits);
  const out = { loss: (await step.read(loss))[0], predictions: Array.from(z, (v) => 1 / (1 + Math.exp(-v))) };
  step.dispose();
  return out;
}

for (const be of [new CpuBackend(), await WebGpuBackend.create()]) {
  const r = await train(be);
  const ok = r.predictions.every((p, i) => Math.round(p) === Y[i]);
  console.log(`${be.name.padEnd(6)} loss ${r.loss.toFixed(4)}  p(1) for 00,01,10,11: ${r.predictions.map((p) => p.toFixed(3)).join(' ')}  ${ok ? 'XOR learned' : 'not learned'}`);
  be.dispose();
}
