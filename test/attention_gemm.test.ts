// The causal variant of the subgroup GEMM (shaders/matmul_subgroup.wgsl, CAUSAL) that the attention backward's
// products run on (src/backends/webgpu/attention.ts), against the plain kernel on the same operands, dispatched
// directly: a [queries, keys] output (CAUSAL_MODE 1) equals the plain product wherever the mask leaves an entry and
// is zero on the tiles wholly past the diagonal; a product reducing over keys (2) or over queries (3, A transposed)
// of a matrix that is zero past the diagonal equals the plain product exactly. Odd sizes, Tq = Tk and Tq < Tk (the
// diagonal offset), both triangles (2 reads A's rows up to the diagonal, 3 its columns from it).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { WebGpuBackend } from '../src/backends/webgpu/webgpu_backend.js';
import { shaderSource } from '../src/backends/webgpu/shaders.js';
import { UNIFORMS } from '../src/backends/webgpu/contracts.js';
import { subgroupTile, subgroupK4, SUBGROUP_PLAIN } from '../src/backends/webgpu/gemm_tile.js';
import { randn } from './helpers.js';

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

interface Product { M: number; N: number; K: number; batch: number; transA: boolean; transB: boolean }

/** C = op(A)·op(B) on matmul_subgroup.wgsl as kernels.ts specialises it, with CAUSAL_MODE `mode` (0: plain). */
async function gemm(p: Product, A: Float32Array, B: Float32Array, mode: number, diag: number): Promise<Float32Array> {
  const { M, N, K, batch, transA, transB } = p, device = gpu.device;
  const { rows16, wide, TM, TN } = subgroupTile(M, N), k4 = subgroupK4(K);
  const defines = {
    ...SUBGROUP_PLAIN, EPILOGUE: false, EPILOGUE_GRAD: false, ROWS16: rows16, WIDE: wide, VEC_B: !transB && N % 4 === 0, K4: k4,
    VEC_A: k4 && !transA && K % 4 === 0, VEC_AT: k4 && transA && !rows16 && M % 4 === 0, CAUSAL: mode > 0,
    // As attention.ts stores the causal products' C: a vec4 a lane and row where N is a multiple of 4.
    STORE_V4: mode > 0 && N % 4 === 0,
  };
  const constants: Record<string, number> = { TRANS_A: +transA, TRANS_B: +transB, ...(mode ? { CAUSAL_MODE: mode, DIAG: diag } : {}) };
  const module = device.createShaderModule({ code: shaderSource('matmul_subgroup', defines) });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants } });
  const storage = (data: Float32Array) => {
    const b = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const uniformData = UNIFORMS.matmul_subgroup_dims.pack({ M, N, K, batch, groups: (TM / 8) * (TN / 32) });
  const uniform = device.createBuffer({ size: uniformData.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, uniformData);
  // C starts as NaN, so an entry the kernel leaves unwritten cannot pass for a zero.
  const a = storage(A), b = storage(B), c = storage(new Float32Array(batch * M * N).fill(NaN));
  const read = device.createBuffer({ size: batch * M * N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [uniform, a, b, c].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const enc = device.createCommandEncoder(), pass = enc.beginComputePass();
  pass.setPipeline(pipeline); pass.setBindGroup(0, group); pass.dispatchWorkgroups(Math.ceil(N / TN), Math.ceil(M / TM), batch); pass.end();
  enc.copyBufferToBuffer(c, 0, read, 0, batch * M * N * 4);
  device.queue.submit([enc.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(read.getMappedRange().slice(0));
  for (const x of [read, a, b, c, uniform]) x.destroy();
  return out;
}

/** [batch, Tq, Tk] random, zero where key j is past query i's diagonal (j > i + diag). */
function lowerTriangle(batch: number, Tq: number, Tk: number, seed: number): Float32Array {
  const x = randn(batch * Tq * Tk, seed), diag = Tk - Tq;
  for (let n = 0; n < batch; n++) for (let i = 0; i < Tq; i++) for (let j = i + diag + 1; j < Tk; j++) x[(n * Tq + i) * Tk + j] = 0;
  return x;
}

/** Where two results differ (each entry compared with ===, so -0 and 0 agree), as a short message; '' if nowhere. */
function differences(got: Float32Array, want: Float32Array, what: string): string {
  const bad: string[] = [];
  for (let i = 0; i < want.length && bad.length < 4; i++) if (!(got[i] === want[i])) bad.push(`[${i}] ${got[i]} != ${want[i]}`);
  return bad.length ? `${what}: ${bad.join(', ')}` : '';
}

describe('subgroup GEMM, causal attention products (CAUSAL) vs the plain kernel', () => {
  const sizes: [number, number][] = [[1, 1], [7, 7], [33, 33], [129, 129], [7, 12], [33, 70], [64, 64]];
  for (const [Tq, Tk] of sizes) for (const dh of [8, 32]) {
    const batch = 2, diag = Tk - Tq;
    it(`Tq ${Tq} Tk ${Tk} dh ${dh}: scores (mode 1) equal the plain product where seen, zero on skipped tiles`, async () => {
      const p: Product = { M: Tq, N: Tk, K: dh, batch, transA: false, transB: true };
      const q = randn(batch * Tq * dh, 1), k = randn(batch * Tk * dh, 2);
      const [got, want] = [await gemm(p, q, k, 1, diag), await gemm(p, q, k, 0, 0)];
      const { TM, TN } = subgroupTile(Tq, Tk);
      let skipped = 0;
      for (let n = 0; n < batch; n++) for (let i = 0; i < Tq; i++) for (let j = 0; j < Tk; j++) {
        const x = (n * Tq + i) * Tk + j, tileLast = Math.min(Math.floor(i / TM) * TM + TM, Tq) - 1;
        const wholeTileMasked = Math.floor(j / TN) * TN > tileLast + diag;
        if (wholeTileMasked) skipped++;
        const expected = wholeTileMasked ? 0 : want[x];
        if (got[x] !== expected) throw new Error(`[${n}, ${i}, ${j}]: ${got[x]}, expected ${expected}${wholeTileMasked ? ' (tile past the diagonal)' : ''}`);
      }
      // With Tq = Tk and more than one column tile, the first row tile's last column tile lies past the diagonal.
      if (Tq === Tk && Tk > TN) expect(skipped).toBeGreaterThan(0);
    });
    it(`Tq ${Tq} Tk ${Tk} dh ${dh}: dS·k over keys (mode 2) and dSᵀ·q over queries (mode 3) equal the plain products`, async () => {
      const dS = lowerTriangle(batch, Tq, Tk, 3), kk = randn(batch * Tk * dh, 4), qq = randn(batch * Tq * dh, 5);
      const byKeys: Product = { M: Tq, N: dh, K: Tk, batch, transA: false, transB: false };
      const byQueries: Product = { M: Tk, N: dh, K: Tq, batch, transA: true, transB: false };
      const msgs = [
        differences(await gemm(byKeys, dS, kk, 2, diag), await gemm(byKeys, dS, kk, 0, 0), 'mode 2'),
        differences(await gemm(byQueries, dS, qq, 3, diag), await gemm(byQueries, dS, qq, 0, 0), 'mode 3'),
      ].filter((m) => m);
      expect(msgs).toEqual([]);
    });
  }
});
