// A generative adversarial network's training (Goodfellow et al.): two models, two optimizers, and two compiled
// steps run alternately, each compiled once per batch size and replayed. The discriminator's step scores a real batch
// and a generated one and updates only the discriminator; the generator's step updates only the generator, towards
// fakes the discriminator calls real (the non-saturating loss). The latent noise is drawn on the device by randn on a
// step counter both executables read and the generator's step advances, so nothing is fed but the real images and
// nothing is read back unless asked (queueRead).
import { input, Tensor } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import { bceWithLogits } from '../graph/activations.js';
import { randn } from '../graph/random.js';
import { dropoutAdvance } from '../graph/norm.js';
import { grad } from '../autodiff/grad.js';
import type { Backend, Executable } from '../backends/backend.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';

interface GanGraphs {
  d: Executable; x: Tensor; lossD: Tensor; realScore: Tensor; fakeScore: Tensor;
  g: Executable; lossG: Tensor;
}

/** What one read says: both losses, and the discriminator's mean probability of "real" on real and on fake images. */
export interface GanRead { step: number; lossD: number; lossG: number; realScore: number; fakeScore: number }

export class GanTrainer {
  /** The noise's step counter: both steps of an iteration read the same step, and the generator's step advances it. */
  readonly counter = { step: 0 };
  step = 0;
  private graphs = new Map<number, GanGraphs>();
  private samplers = new Map<number, { ex: Executable; out: Tensor; counter: { step: number } }>();

  constructor(readonly backend: Backend, readonly generator: Module, readonly discriminator: Module,
    readonly optG: Optimizer, readonly optD: Optimizer, readonly latent: number, readonly seed = 1) {}

  private compile(B: number, featureShape: number[]): GanGraphs {
    let gr = this.graphs.get(B);
    if (gr) return gr;
    const G = this.generator, D = this.discriminator;
    const ones = ops.constant(1, [B, 1]), zeros = ops.constant(0, [B, 1]);
    const x = input([B, ...featureShape], 'f32', 'real');
    // Discriminator: real towards 1, fake towards 0. The fake's graph reaches G's weights, but only D's are updated.
    const fake = G.forward(randn([B, this.latent], this.seed, this.counter));
    const dReal = D.forward(x), dFake = D.forward(fake);
    const lossD = ops.add(bceWithLogits(dReal, ones), bceWithLogits(dFake, zeros));
    const dParams = D.parameters();
    const realScore = ops.mean(ops.sigmoid(dReal)), fakeScore = ops.mean(ops.sigmoid(dFake));
    const d = this.backend.compile([lossD, realScore, fakeScore], this.optD.updates(dParams, grad(lossD, dParams.map((p) => p.tensor))));
    // Generator: fresh noise (another seed), fakes scored as real; its step ends the iteration, so it moves the counter.
    const lossG = bceWithLogits(D.forward(G.forward(randn([B, this.latent], this.seed + 1, this.counter))), ones);
    const gParams = G.parameters();
    const g = this.backend.compile([lossG], [...this.optG.updates(gParams, grad(lossG, gParams.map((p) => p.tensor))), dropoutAdvance(this.counter)]);
    gr = { d, x, lossD, realScore, fakeScore, g, lossG };
    this.graphs.set(B, gr);
    return gr;
  }

  /** One iteration: a discriminator step, then a generator step, on a batch of B real images. Nothing waits here. */
  trainStep(x: Float32Array, B: number, featureShape: number[]): void {
    const gr = this.compile(B, featureShape);
    this.step++;
    this.optD.beginStep?.(this.step);
    gr.d.run(new Map([[gr.x, x]]));
    this.optG.beginStep?.(this.step);
    gr.g.run(new Map());
  }

  /** Queue the reads of the last iteration at batch size B behind it; await the promise later. */
  queueRead(B: number): Promise<GanRead> {
    const gr = this.graphs.get(B);
    if (!gr) throw new RangeError(`GanTrainer: no step has run at batch size ${B}`);
    const step = this.step;
    return Promise.all([gr.d.read(gr.lossD), gr.g.read(gr.lossG), gr.d.read(gr.realScore), gr.d.read(gr.fakeScore)])
      .then(([lossD, lossG, r, f]) => ({ step, lossD: lossD[0], lossG: lossG[0], realScore: r[0], fakeScore: f[0] }));
  }

  /** n generated images from a fixed draw of noise (the same at every call: the sampler's counter never moves). */
  async sample(n: number): Promise<Float32Array> {
    let s = this.samplers.get(n);
    if (!s) {
      const counter = { step: 0 };
      this.generator.eval();
      const out = this.generator.forward(randn([n, this.latent], this.seed + 2, counter));
      this.generator.train();
      s = { ex: this.backend.compile([out]), out, counter };
      this.samplers.set(n, s);
    }
    s.ex.run(new Map());
    return (await s.ex.read(s.out)) as Float32Array;
  }

  dispose(): void {
    for (const g of this.graphs.values()) { g.d.dispose(); g.g.dispose(); }
    for (const s of this.samplers.values()) s.ex.dispose();
    this.graphs.clear(); this.samplers.clear();
  }
}
