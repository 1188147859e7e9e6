// The large-kernel fuzz tier. The random graphs of fuzz.ts stay under ~17 per dimension, so they only ever run the
// small GEMM tiles; the kernels a real model spends its time in are chosen by size (kernels.ts: subgroupTile,
// subgroupK4, gemmTile; packedGemm, which packs nothing under 'subgroup', so the packed targets ask for 'packed'). Each case here draws a shape inside the region where the backend picks one particular
// path (packed panels in textures with 128- or 64-row tiles, the subgroup kernel's 16-row, wide, vector-A and -B,
// four-k and one-k variants, the tiled kernel's 8x8, thin and 4x4 tiles, a matmul with its fused bias+activation epilogue, conv2d's
// implicit-GEMM kernels, a transposed convolution's im2col and col2im around a GEMM), builds y = op(A)·op(B) (or a conv layer) with its gradients, and checks it against
// the CPU reference exactly as fuzz.ts does. gemmPaths reads, from the compiled plan, which path every GEMM and conv
// kernel of the case actually took, so coverage is measured, not assumed.
import { Tensor, input } from '../graph/tensor.js';
import * as ops from '../graph/ops.js';
import * as conv from '../graph/conv.js';
import { fmt } from '../graph/shape.js';
import { grad } from '../autodiff/grad.js';
import { Rng } from '../util/rng.js';
import type { Feeds } from '../schedule/plan.js';
import type { WebGpuBackend } from '../backends/webgpu/webgpu_backend.js';
import { launchFor, fusedLaunch } from '../backends/webgpu/kernels.js';
import type { Launch } from '../backends/webgpu/launch.js';
import { FuzzCase, values } from './fuzz.js';

interface Target {
  /** The path the shape region selects, for the record (gemmPaths says what actually ran). */
  name: string;
  /** The GEMM kernel family the backend must be created with for this path. */
  gemm: 'auto' | 'tiled' | 'packed';
  build: (r: Rng, x: (shape: number[], fanIn: number) => Tensor) => { y: Tensor; what: string };
}

const between = (r: Rng, lo: number, hi: number) => lo + r.int(hi - lo + 1);

/** C = op(A)·op(B) for C [M, N] with inner size K; optionally batched, optionally with a bias and relu epilogue. */
function product(r: Rng, x: (shape: number[], fanIn: number) => Tensor, M: number, N: number, K: number, o: { transA?: boolean; transB?: boolean; batch?: number; epilogue?: boolean } = {}) {
  const { transA = false, transB = false, batch } = o;
  const pre = batch ? [batch] : [];
  const a = x([...pre, ...(transA ? [K, M] : [M, K])], 1);
  const b = x([...pre, ...(transB ? [N, K] : [K, N])], K);
  let y = ops.matmul(a, b, { transA, transB });
  if (o.epilogue) y = ops.relu(ops.add(y, x([N], 1)));
  return { y, what: `${batch ? `${batch} x ` : ''}[${M}, ${K}]${transA ? 'ᵀ' : ''} · [${K}, ${N}]${transB ? 'ᵀ' : ''}${o.epilogue ? ' + bias, relu' : ''}` };
}

export const BIG_TARGETS: Target[] = [
  // The packed kernel runs under gemm 'packed' only (packedGemm); 128-row tiles from M = 256.
  { name: 'packed panels, 128-row tiles', gemm: 'packed', build: (r, x) => product(r, x, between(r, 256, 300), between(r, 256, 300), between(r, 512, 560), { transA: r.next() < 0.5 }) },
  // M under 256: 64-row tiles (its backward's dB has M = N: 128-row).
  { name: 'packed panels, 64-row tiles (A·Bᵀ)', gemm: 'packed', build: (r, x) => { const M = between(r, 64, 80), N = between(r, 1024, 1060); return product(r, x, M, N, Math.ceil(2 ** 27 / (M * N)) + between(r, 0, 40), { transB: true }); } },
  { name: 'packed panels with the bias+relu epilogue', gemm: 'packed', build: (r, x) => product(r, x, between(r, 256, 280), between(r, 256, 280), between(r, 512, 540), { epilogue: true }) },
  { name: 'subgroup, 16-row tiles', gemm: 'auto', build: (r, x) => product(r, x, between(r, 3, 16), between(r, 64, 300), between(r, 64, 400), { transA: r.next() < 0.5 }) },
  { name: 'subgroup, wide tiles, vector loads of B', gemm: 'auto', build: (r, x) => product(r, x, between(r, 33, 200), 4 * between(r, 16, 80), between(r, 100, 500), { epilogue: r.next() < 0.5 }) },
  { name: 'subgroup, narrow tiles', gemm: 'auto', build: (r, x) => product(r, x, between(r, 40, 250), between(r, 10, 63), between(r, 200, 800)) },
  { name: 'subgroup, A·Bᵀ below the packing threshold', gemm: 'auto', build: (r, x) => product(r, x, between(r, 100, 200), between(r, 70, 130), between(r, 200, 600), { transB: true }) },
  { name: 'subgroup, batched', gemm: 'auto', build: (r, x) => product(r, x, between(r, 60, 130), between(r, 60, 130), between(r, 60, 200), { batch: between(r, 2, 3) }) },
  {
    // A conv layer at a size where the implicit GEMM's tiles are all full (32-row, 64-wide) and its weight gradient
    // splits k, with bias and ReLU in the forward's epilogue.
    name: 'conv2d: implicit GEMM, forward with epilogue, dx, split-k dw', gemm: 'auto',
    build: (r, x) => {
      const N = 8, C = 32, H = 32, O = 64, k = 3, stride = r.next() < 0.5 ? 1 : 2;
      const img = x([N, C, H, H], 1), w = x([O, C, k, k], C * k * k), b = x([O], 1);
      return { y: ops.relu(conv.conv2d(img, w, { padding: 1, stride }, b)), what: `relu(conv2d [${N}, ${C}, ${H}, ${H}] * [${O}, ${C}, ${k}, ${k}] stride ${stride} + bias)` };
    },
  },
  {
    // Odd sizes: partial tiles in every direction, a dilated window, odd channel counts.
    name: 'conv2d: implicit GEMM, odd sizes', gemm: 'auto',
    build: (r, x) => {
      const N = between(r, 3, 9), C = between(r, 3, 21), H = between(r, 9, 30), O = between(r, 5, 40), k = between(r, 1, 5), d = r.next() < 0.3 ? 2 : 1;
      const p = between(r, 0, 2), s = between(r, 1, 2);
      const img = x([N, C, H, H + 1], 1), w = x([O, C, k, k], C * k * k);
      return { y: conv.conv2d(img, w, { padding: p, stride: s, dilation: d }), what: `conv2d [${N}, ${C}, ${H}, ${H + 1}] * [${O}, ${C}, ${k}, ${k}] pad ${p} stride ${s} dilation ${d}` };
    },
  },
  {
    // The im2col family that stays: a transposed convolution is a GEMM and col2im, its input gradient im2col and a GEMM.
    name: 'convTranspose2d: GEMM and col2im, backward im2col', gemm: 'auto',
    build: (r, x) => {
      const N = between(r, 2, 5), C = between(r, 8, 20), H = between(r, 8, 16), O = between(r, 4, 12), k = between(r, 2, 4);
      const img = x([N, C, H, H], 1), w = x([C, O, k, k], C * k * k);
      return { y: conv.convTranspose2d(img, w, { stride: 2, padding: 1 }), what: `convTranspose2d [${N}, ${C}, ${H}, ${H}] * [${C}, ${O}, ${k}, ${k}] stride 2 pad 1` };
    },
  },
  { name: 'tiled, 8x8 blocks on 128x128 tiles', gemm: 'tiled', build: (r, x) => product(r, x, between(r, 64, 200), between(r, 64, 200), between(r, 64, 300), { transA: r.next() < 0.5, transB: r.next() < 0.5 }) },
  { name: 'tiled, thin tiles', gemm: 'tiled', build: (r, x) => product(r, x, between(r, 16, 40), between(r, 1024, 1100), between(r, 30, 90)) },
  { name: 'tiled, 4x4 blocks', gemm: 'tiled', build: (r, x) => product(r, x, between(r, 17, 63), between(r, 17, 200), between(r, 50, 400), { epilogue: r.next() < 0.5 }) },
  // Appended after the rest, so that each earlier target keeps the seed, and so the shape, it had.
  // subgroupK4: four k a step from K = 16, A read as vec4s where it is untransposed and K is a multiple of 4, or
  // transposed and M is (vec4s along M); a shorter K takes one k a step.
  { name: 'subgroup, four k a step, vector loads of A', gemm: 'auto', build: (r, x) => product(r, x, between(r, 17, 150), between(r, 33, 150), 4 * between(r, 4, 90), { transB: r.next() < 0.5, epilogue: r.next() < 0.5 }) },
  { name: 'subgroup, Aᵀ·B with vector loads of A along M', gemm: 'auto', build: (r, x) => product(r, x, 4 * between(r, 5, 50), between(r, 33, 150), between(r, 16, 300), { transA: true, transB: r.next() < 0.3 }) },
  { name: 'subgroup, one k a step (K under 16)', gemm: 'auto', build: (r, x) => product(r, x, between(r, 17, 150), between(r, 17, 150), between(r, 1, 15), { transA: r.next() < 0.5, transB: r.next() < 0.5 }) },
];

/** The case for `seed`: target seed mod BIG_TARGETS.length, its shape drawn from the seed. */
export function bigFuzzCase(seed: number): FuzzCase & { target: Target } {
  const target = BIG_TARGETS[seed % BIG_TARGETS.length];
  const r = new Rng(seed), vr = new Rng(seed ^ 0x5bd1e995);
  const inputs: { t: Tensor; fanIn: number }[] = [];
  const { y, what } = target.build(r, (shape, fanIn) => { const t = input(shape, 'f32', `x${inputs.length}`); inputs.push({ t, fanIn }); return t; });
  const R = input(y.shape, 'f32', 'R');
  const wrt = inputs.map((i) => i.t);
  const outputs = [y, ...grad(ops.sum(ops.mul(y, R)), wrt)];
  const feeds: Feeds = new Map();
  // Weights scaled by 1/sqrt(fan-in), as in fuzz.ts, so values stay O(1) whatever K is.
  for (const { t, fanIn } of inputs) feeds.set(t, values(vr, t.size, { kind: 'normal', scale: 1 / Math.sqrt(fanIn) }));
  feeds.set(R, values(vr, R.size, { kind: 'normal', scale: 1 }));
  return { seed, description: `${target.name}: ${what} -> ${fmt(y.shape)}`, ops: [target.name], y, outputs, feeds, target, repro: `npx wgtrain fuzz --tier big --seed ${seed} --cases 1` };
}

/** What one GEMM or conv launch is, in words: the kernel and the specialisation the backend chose. */
function pathOf(l: Launch): string | undefined {
  const d = l.defines ?? {}, c = l.constants ?? {};
  const epilogue = d.EPILOGUE ? ' + epilogue' : '';
  if (l.shader === 'matmul_packed') return `packed ${d.ROWS128 ? 128 : 64}-row tiles${epilogue}`;
  if (l.shader === 'gemm_pack') return `pack ${c.PACK_B ? 'B' : 'A'} panel`;
  if (l.shader === 'matmul_subgroup') return `subgroup ${d.ROWS16 ? 16 : 32}x${d.WIDE ? 64 : 32}${d.VEC_B ? ' vec-B' : ''}${d.VEC_A ? ' vec-A' : ''}${d.VEC_AT ? ' vec-AT' : ''}${d.K4 ? ' k4' : ''}${epilogue}`;
  if (l.shader === 'matmul') return `tiled ${d.BLOCK8 ? '8x8' : '4x4'} blocks ${(d.BLOCK8 ? 8 : 4) * (c.TSY as number)}x${(d.BLOCK8 ? 8 : 4) * (c.TSX as number)}${epilogue}`;
  if (l.shader === 'conv_gemm') return `implicit conv ${d.FWD ? 'forward' : d.DX ? 'dx' : 'dw'} ${d.ROWS16 ? 16 : 32}x${d.X16 ? 128 : d.WIDE ? 64 : 32}${l.workgroups[2] > 1 ? ` split k ${l.workgroups[2]}` : ''}${d.EPILOGUE || d.BIAS ? ' + epilogue' : ''}${d.K4 ? ' k4' : ''}${d.VEC_A ? ' vec-A' : ''}${d.VEC_Y ? ' vec-Y' : ''}${d.SLIDE ? ' slide' : ''}${d.ONES ? ' + db' : ''}`;
  if (l.shader === 'im2col' || l.shader === 'col2im') return `${l.shader} ${c.CHANNEL_MAJOR ? 'channel-major' : 'image-major'}`;
  return undefined;
}

/** The GEMM and conv paths `outputs` take on `gpu`, read from its compiled plan (one entry per launch). */
export function gemmPaths(gpu: WebGpuBackend, outputs: readonly Tensor[]): string[] {
  const ex = gpu.compile(outputs) as unknown as { plan: { steps: Tensor[]; fused: Map<Tensor, Parameters<typeof fusedLaunch>[1]> }; dispose(): void };
  try {
    const paths: string[] = [];
    for (const s of ex.plan.steps) {
      const g = ex.plan.fused.get(s);
      const l = g ? fusedLaunch(s, g, gpu.ctx.gemm) : launchFor(s, gpu.ctx.gemm);
      for (const one of [...(l.before ?? []), l]) { const p = pathOf(one); if (p) paths.push(p); }
    }
    return paths;
  } finally {
    ex.dispose();
  }
}
