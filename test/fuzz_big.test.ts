// The large-kernel fuzz tier (src/check/fuzz_big.ts): one case per path, each checked against the CPU reference, with
// the path every GEMM and conv launch took read from the compiled plan. Every path the backend can select on this
// adapter must be taken by some case.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { WebGpuBackend, CpuBackend } from '../src/backends/index.js';
import { runFuzzCase } from '../src/check/fuzz.js';
import { bigFuzzCase, gemmPaths, BIG_TARGETS } from '../src/check/fuzz_big.js';

let auto: WebGpuBackend, tiled: WebGpuBackend, packed: WebGpuBackend;
beforeAll(async () => { auto = await WebGpuBackend.create(); tiled = await WebGpuBackend.create({ gemm: 'tiled' }); packed = await WebGpuBackend.create({ gemm: 'packed' }); });
afterAll(() => { auto?.dispose(); tiled?.dispose(); packed?.dispose(); });

/** Case counts per path, for the record (printed once the tier has run). */
const perPath = new Map<string, number>();

describe('large-kernel fuzz tier', () => {
  // Seeds 1..N cover every target once (seed mod the target count picks the target).
  for (let seed = 1; seed <= BIG_TARGETS.length; seed++) {
    const c = bigFuzzCase(seed);
    it(`seed ${seed}: ${c.description}`, async () => {
      const gpu = { auto, tiled, packed }[c.target.gemm];
      expect(gpu.ctx.gemm, 'lavapipe offers subgroups, so auto picks the subgroup family').toBe(c.target.gemm === 'auto' ? 'subgroup' : c.target.gemm);
      const paths = gemmPaths(gpu, c.outputs);
      for (const p of new Set(paths)) perPath.set(p, (perPath.get(p) ?? 0) + 1);
      const r = await runFuzzCase(seed, gpu, new CpuBackend(), bigFuzzCase);
      expect(r.ok, r.message).toBe(true);
      // The target's own path is among those taken.
      const want: Record<string, RegExp> = {
        'packed panels, 128-row tiles': /^packed 128-row tiles$/, 'packed panels, 64-row tiles (A·Bᵀ)': /^packed 64-row tiles$/,
        'packed panels with the bias+relu epilogue': /^packed 128-row tiles \+ epilogue$/, 'subgroup, 16-row tiles': /^subgroup 16x64/,
        'subgroup, wide tiles, vector loads of B': /^subgroup 32x64 vec-B/, 'subgroup, narrow tiles': /^subgroup 32x32/,
        'subgroup, A·Bᵀ below the packing threshold': /^subgroup 32x64( vec-A)? k4$/, 'subgroup, batched': /^subgroup 32x64/,
        'subgroup, four k a step, vector loads of A': /^subgroup 32x(32|64)( vec-B)? vec-A k4/, 'subgroup, one k a step (K under 16)': /^subgroup 32x(32|64)( vec-B)?$/,
        'subgroup, Aᵀ·B with vector loads of A along M': /^subgroup 32x(32|64)( vec-B)? vec-AT k4/,
        'conv2d: implicit GEMM, forward with epilogue, dx, split-k dw': /^implicit conv dw 32x64 split k/, 'conv2d: implicit GEMM, odd sizes': /^implicit conv forward/,
        'convTranspose2d: GEMM and col2im, backward im2col': /^col2im channel-major$/,
        'tiled, 8x8 blocks on 128x128 tiles': /^tiled 8x8 blocks 128x128/, 'tiled, thin tiles': /^tiled 8x8 blocks (16|32|64)x128$/, 'tiled, 4x4 blocks': /^tiled 4x4 blocks 32x32/,
      };
      expect(paths.some((p) => want[c.target.name].test(p)), `${c.target.name}: took ${[...new Set(paths)].join('; ')}`).toBe(true);
    }, 120_000);
  }

  it('every GEMM and conv path was taken', () => {
    console.log(`large-kernel fuzz: cases per path: ${[...perPath].map(([p, n]) => `${p}: ${n}`).join('; ')}`);
    for (const p of ['packed 128-row tiles', 'packed 64-row tiles', 'packed 128-row tiles + epilogue', 'pack A panel', 'pack B panel', 'subgroup 16x64', 'subgroup 32x64 vec-B', 'subgroup 32x32', 'subgroup 32x64 vec-B vec-A k4', 'subgroup 32x64 vec-A k4',
      'tiled 8x8 blocks 128x128', 'tiled 4x4 blocks 32x32', 'im2col channel-major', 'col2im channel-major', 'implicit conv forward 32x64 + epilogue',
      'implicit conv dx', 'implicit conv dw']) {
      expect([...perPath.keys()].some((k) => k.startsWith(p)), `${p} (taken: ${[...perPath.keys()].join('; ')})`).toBe(true);
    }
  });
});
