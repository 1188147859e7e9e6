// The GEMM variants the autotuner chooses among, by the device's GEMM kernel family: data, so that a new variant of
// shaders/matmul_subgroup.wgsl or matmul_packed.wgsl (a define, an override constant) is one more entry here and one
// more case where kernels.ts's matmul() turns a variant into its launch. Every entry runs any M, N, K correctly (the
// parity tests run each one on odd sizes, test/autotune_gpu.test.ts); `worth` only skips those that cannot win, to
// bound the time tuning takes.
import type { GemmKernel } from './device.js';
import { panelsFit, type GemmVariant } from './kernels.js';

export type { GemmVariant };

export function gemmVariantName(v: GemmVariant): string {
  if (v.kernel === 'packed') return 'packed';
  if (v.kernel === 'subgroup') return `subgroup ${v.rows16 ? 16 : 32}x${v.wide ? 64 : 32}`;
  return `tiled ${v.R * v.TSY}x${v.R * v.TSX} k${v.TK}`;
}

const sub = (rows16: boolean, wide: boolean): GemmVariant => ({ kernel: 'subgroup', rows16, wide });
const tiled = (R: number, TSX: number, TSY: number, TK: number): GemmVariant => ({ kernel: 'tiled', R, TSX, TSY, TK });

/** Whether trying `v` on an M x N x K product can pay (all are correct). */
type Worth = (M: number, N: number, K: number, batch: number) => boolean;
const always: Worth = () => true;

/** The candidates of each tunable family. 'packed' as a family is a forced choice (DeviceOptions.gemm): never tuned. */
export const GEMM_CANDIDATES: Record<Exclude<GemmKernel, 'packed'>, { variant: GemmVariant; worth: Worth }[]> = {
  subgroup: [
    // The packing passes cost a pass over each operand; below 64 in any dimension the tile is mostly empty.
    { variant: { kernel: 'packed' }, worth: (M, N, K, batch) => Math.min(M, N, K) >= 64 && panelsFit(M, N, K, batch) },
    { variant: sub(false, true), worth: always },
    { variant: sub(false, false), worth: always },
    { variant: sub(true, true), worth: always },
    { variant: sub(true, false), worth: always },
  ],
  tiled: [
    { variant: tiled(8, 16, 16, 16), worth: always },
    { variant: tiled(4, 8, 8, 32), worth: always },
    // Long, skinny outputs (see gemmTile): 8x8 blocks on a grid shrunk along the skinny dimension.
    ...[2, 4, 8].flatMap((thin) => [
      { variant: tiled(8, 16, thin, 16), worth: ((M, N) => N >= 1024 && M <= 8 * thin) as Worth },
      { variant: tiled(8, thin, 16, 16), worth: ((M, N) => M >= 1024 && N <= 8 * thin) as Worth },
    ]),
  ],
};

/** The variant of `family` called `name`, if it is one and can run these sizes. */
export function gemmVariantNamed(family: GemmKernel, name: string, M: number, N: number, K: number, batch: number): GemmVariant | undefined {
  if (family === 'packed') return undefined;
  const v = GEMM_CANDIDATES[family].find((c) => gemmVariantName(c.variant) === name)?.variant;
  return v?.kernel === 'packed' && !panelsFit(M, N, K, batch) ? undefined : v;
}
