// What the TypeScript side and the WGSL side must agree on, written once here and generated into the shaders as
// include pieces (see shaders.ts), so a shader names a function code or a uniform field and never repeats a number:
//  - the elementwise function codes, `UNARY_RELU`, `BINARY_ADD`, ... from the table in src/graph/elementwise.ts;
//  - word layouts of the uniforms that hold arrays (a uniform array needs 16-byte elements, so these are
//    array<vec4<u32>, N> read with m(i)): the shader reads `m(EW_SHAPE + d)`, the host packs the same layout by name;
//  - the optimizer rules' hyper-parameter structs, from their field lists.
import { UNARY, BINARY } from '../../graph/elementwise.js';
import type { OptimRule } from '../../graph/optim_ops.js';
import { MAX_RANK, f32bits } from './launch.js';

const constName = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** `const UNARY_IDENTITY: u32 = 0u;` ... for every elementwise function: the `op_codes` piece. */
export function opCodesWgsl(): string {
  const lines = ['// Generated from src/graph/elementwise.ts by src/backends/webgpu/contracts.ts.'];
  for (const [table, prefix] of [[UNARY, 'UNARY'], [BINARY, 'BINARY']] as const) {
    for (const [name, f] of Object.entries(table)) lines.push(`const ${prefix}_${constName(name)}: u32 = ${f.code}u;`);
  }
  return lines.join('\n') + '\n';
}

/** A uniform of u32 words, `fields` in order, each one word or (arrays) several. */
export class WordLayout<F extends string> {
  readonly offsets = {} as Record<F, number>;
  readonly words: number;
  /** `prefix`: the WGSL names' prefix (EW_SHAPE). */
  constructor(readonly prefix: string, readonly fields: Record<F, number>) {
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

/** shaders/elementwise.wgsl: alpha and alpha2 (the chained op's) are f32 bit patterns. */
export const ELEMENTWISE_PARAMS = new WordLayout('EW', {
  n: 1, rank: 1, alpha: 1, periodA: 1, shape: MAX_RANK, stridesA: MAX_RANK, stridesB: MAX_RANK, periodB: 1, alpha2: 1,
});

/** shaders/reduce.wgsl: the kept and the reduced dims, each with its strides into the input. */
export const REDUCE_PARAMS = new WordLayout('RD', {
  outCount: 1, redCount: 1, keptRank: 1, redRank: 1, keptShape: MAX_RANK, keptStrides: MAX_RANK, redShape: MAX_RANK, redStrides: MAX_RANK,
});

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
