// What the TypeScript side and the WGSL side must agree on, written once here and generated into the shaders as
// include pieces (see shaders.ts), so a shader names a function code or a uniform field and never repeats a number:
//  - the elementwise function codes, `UNARY_RELU`, `BINARY_ADD`, ... from the table in src/graph/elementwise.ts;
//  - every uniform: scalar structs (UNIFORMS), and word layouts of the uniforms that hold arrays (a uniform array
//    needs 16-byte elements, so these are array<vec4<u32>, N> read with m(i)): the shader reads `m(EW_SHAPE + d)`;
//    the host packs each by field name;
//  - the optimizer rules' hyper-parameter structs, from their field lists.
import { UNARY, BINARY } from '../../graph/elementwise.js';
import type { OptimRule } from '../../graph/optim_ops.js';
import { MAX_CONCAT_INPUTS } from '../../graph/shape_ops.js';
import { MAX_RANK } from './launch.js';
import { MAX_CHAIN } from '../../schedule/fuse.js';

const constName = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** `const UNARY_IDENTITY: u32 = 0u;` ... for every elementwise function: the `op_codes` piece. */
export function opCodesWgsl(): string {
  const lines = ['// Generated from src/graph/elementwise.ts by src/backends/webgpu/contracts.ts.'];
  for (const [table, prefix] of [[UNARY, 'UNARY'], [BINARY, 'BINARY']] as const) {
    for (const [name, f] of Object.entries(table)) lines.push(`const ${prefix}_${constName(name)}: u32 = ${f.code}u;`);
  }
  return lines.join('\n') + '\n';
}

/** A uniform struct of scalar fields, in order: the WGSL declaration and the host's packing come from one list. */
export class UniformStruct<F extends string> {
  constructor(readonly name: string, readonly fields: Record<F, 'u32' | 'f32'>) {}

  wgsl(): string {
    const body = Object.entries(this.fields).map(([f, t]) => `${f}: ${t}`).join(', ');
    return `// Generated from a UniformStruct in src/backends/webgpu/contracts.ts.\nstruct ${this.name} { ${body} }\n`;
  }

  /** The uniform's bytes (a multiple of 16), each field from `values` by name. */
  pack(values: Record<F, number>): ArrayBuffer {
    const names = Object.keys(this.fields) as F[];
    const b = new ArrayBuffer(Math.max(16, Math.ceil(names.length / 4) * 16)), u = new Uint32Array(b), f = new Float32Array(b);
    names.forEach((k, i) => { if (this.fields[k] === 'f32') f[i] = values[k]; else u[i] = values[k]; });
    return b;
  }
}

/**
 * The scalar uniforms, by the include piece that declares them (`#include <key>` in the shader named in front of it).
 * Each shader keeps its own struct name, so its body reads `dims.C` as before.
 */
export const UNIFORMS = {
  softmax_xent_dims: new UniformStruct('Dims', { B: 'u32', C: 'u32', ignore: 'u32', hasIgnore: 'u32' }),
  embedding_dims: new UniformStruct('Dims', { N: 'u32', D: 'u32', V: 'u32' }),
  softmax_dims: new UniformStruct('Dims', { rows: 'u32', C: 'u32', Tq: 'u32', perBatch: 'u32' }),
  topk_dims: new UniformStruct('Dims', { rows: 'u32', C: 'u32', k: 'u32' }),
  label_count_dims: new UniformStruct('Dims', { N: 'u32', ignore: 'u32' }),
  attention_dims: new UniformStruct('Dims', { N: 'u32', Tq: 'u32', Tk: 'u32', scale: 'f32' }),
  log_softmax_dims: new UniformStruct('Dims', { rows: 'u32', C: 'u32' }),
  maxout_dims: new UniformStruct('Dims', { outs: 'u32', k: 'u32' }),
  layer_norm_dims: new UniformStruct('Dims', { rows: 'u32', C: 'u32', eps: 'f32' }),
  running_update_params: new UniformStruct('Params', { n: 'u32', momentum: 'f32', scale: 'f32' }),
  dropout_params: new UniformStruct('Params', { n: 'u32', seed: 'u32', step: 'u32', threshold: 'u32', scale: 'f32' }),
  randn_params: new UniformStruct('Params', { n: 'u32', seed: 'u32', step: 'u32' }),
  /** im2col, col2im and pool: how many invocations do work. */
  window_total: new UniformStruct('Total', { n: 'u32' }),
  matmul_dims: new UniformStruct('Dims', { M: 'u32', N: 'u32', K: 'u32', batch: 'u32' }),
  /** shaders/conv_gemm.wgsl: the GEMM's sizes, the k chunk of one grid z (split k), and the accumulator blocks to store. */
  conv_dims: new UniformStruct('Dims', { M: 'u32', N: 'u32', K: 'u32', kc: 'u32', groups: 'u32' }),
  matmul_subgroup_dims: new UniformStruct('Dims', { M: 'u32', N: 'u32', K: 'u32', batch: 'u32', groups: 'u32' }),
  matmul_packed_dims: new UniformStruct('Dims', { M: 'u32', N: 'u32', K: 'u32', batch: 'u32', MT: 'u32', NT: 'u32', groups: 'u32' }),
  gemm_pack_dims: new UniformStruct('Dims', { R: 'u32', K: 'u32', tiles: 'u32', batch: 'u32', KP: 'u32' }),
};

/** A uniform of u32 words, `fields` in order, each one word or (arrays) several. */
export class WordLayout<F extends string> {
  readonly offsets = {} as Record<F, number>;
  readonly words: number;
  /** `prefix`: the WGSL names' prefix (EW_SHAPE); `consts`: more named numbers the shader needs (a block's size). */
  constructor(readonly prefix: string, readonly fields: Record<F, number>, readonly consts: Record<string, number> = {}) {
    let at = 0;
    for (const [f, n] of Object.entries(fields) as [F, number][]) { this.offsets[f] = at; at += n; }
    this.words = at;
  }

  /** The binding, the word reader m(i) and one offset constant per field. */
  wgsl(): string {
    const vec4s = Math.ceil(this.words / 4);
    return [
      `// Generated from a WordLayout in src/backends/webgpu/contracts.ts: ${Object.entries(this.fields).map(([f, n]) => (n === 1 ? f : `${f}[${n}]`)).join(', ')}.`,
      `@group(0) @binding(0) var<uniform> params: array<vec4<u32>, ${vec4s}>;`,
      'fn m(i: u32) -> u32 { return params[i / 4u][i % 4u]; }',
      ...Object.entries(this.offsets).map(([f, at]) => `const ${this.prefix}_${constName(f)}: u32 = ${at}u;`),
      ...Object.entries(this.consts).map(([c, v]) => `const ${this.prefix}_${constName(c)}: u32 = ${v}u;`),
    ].join('\n') + '\n';
  }

  /** The uniform's bytes: each field's value (a number, or the elements of an array field, zero-padded). */
  pack(values: Record<F, number | readonly number[]>): ArrayBuffer {
    const a = new Uint32Array(Math.ceil(this.words / 4) * 4);
    for (const [f, v] of Object.entries(values) as [F, number | number[]][]) {
      const xs = typeof v === 'number' ? [v] : v;
      if (xs.length > this.fields[f]) throw new Error(`uniform ${this.prefix}: field ${f} holds ${this.fields[f]} words, got ${xs.length}`);
      a.set(xs, this.offsets[f]);
    }
    return a.buffer;
  }
}

/**
 * shaders/elementwise.wgsl: alpha, the chained ops' alphas and constants, and scale (a fused sum's factor) are f32 bit
 * patterns.
 */
export const ELEMENTWISE_PARAMS = new WordLayout('EW', {
  n: 1, rank: 1, alpha: 1, periodA: 1, shape: MAX_RANK, stridesA: MAX_RANK, stridesB: MAX_RANK, periodB: 1, alphas: MAX_CHAIN, consts: MAX_CHAIN, scale: 1, rowLen: 1,
});

/** shaders/reduce.wgsl: the kept and the reduced dims, each with its strides into the input. */
export const REDUCE_PARAMS = new WordLayout('RD', {
  outCount: 1, redCount: 1, keptRank: 1, redRank: 1, keptShape: MAX_RANK, keptStrides: MAX_RANK, redShape: MAX_RANK, redStrides: MAX_RANK,
});

/**
 * shaders/strided_copy.wgsl: the output's shape, then per source (up to MAX_CONCAT_INPUTS) its offset (i32 bits) and
 * its shape, `sourceWords` words each.
 */
export const STRIDED_COPY_PARAMS = new WordLayout('SC', {
  n: 1, outShape: MAX_RANK, sources: MAX_CONCAT_INPUTS * 2 * MAX_RANK,
}, { sourceWords: 2 * MAX_RANK, shapeInSource: MAX_RANK });

/** The f32 fields of each optimizer rule's uniform after its leading `n: u32` (the element count), in order. */
export const OPTIM_HYPER: Record<OptimRule, string[]> = {
  sgd: ['lr', 'momentum', 'l2', 'nesterov'],
  adam: ['beta1', 'beta1c', 'beta2', 'beta2c', 'eps', 'sqrtBc2', 'l2', 'decay', 'gradCoef', 'momCoef'],
  rmsprop: ['lr', 'alpha', 'alphac', 'eps', 'l2', 'momentum'],
  adagrad: ['clr', 'eps', 'l2'],
  adadelta: ['lr', 'rho', 'rhoc', 'eps', 'l2'],
};

/** `struct SgdHyper { n: u32, lr: f32, ... }` for every rule: the `optim_hyper` piece. */
export function optimHyperWgsl(): string {
  const lines = ['// Generated from OPTIM_HYPER in src/backends/webgpu/contracts.ts.'];
  for (const [rule, fields] of Object.entries(OPTIM_HYPER)) {
    lines.push(`struct ${rule[0].toUpperCase()}${rule.slice(1)}Hyper { n: u32, ${fields.map((f) => `${f}: f32`).join(', ')} }`);
  }
  return lines.join('\n') + '\n';
}

/** The bytes of a rule's uniform: n, then its fields from `coefs` by name. */
export function packOptimHyper(rule: OptimRule, n: number, coefs: Record<string, number>): ArrayBuffer {
  const fields = OPTIM_HYPER[rule];
  const b = new ArrayBuffer(Math.ceil((1 + fields.length) / 4) * 16), u = new Uint32Array(b), f = new Float32Array(b);
  u[0] = n;
  fields.forEach((k, i) => {
    if (typeof coefs[k] !== 'number') throw new Error(`optim_step(${rule}): coefficient '${k}' is missing (got ${Object.keys(coefs).join(', ')})`);
    f[1 + i] = coefs[k];
  });
  return b;
}
