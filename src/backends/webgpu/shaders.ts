// WGSL sources from shaders/, specialised by wgsl-preprocessor's #if/#elif/#else/#endif. A source names its
// switches (`#if BINARY`); here each name becomes a template value for the preprocessor's tag. Every shader a launch
// may name (ShaderName in launch.ts) has its source here, or typecheck fails.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import type { ShaderName } from './launch.js';
import { opCodesWgsl, optimHyperWgsl, ELEMENTWISE_PARAMS, REDUCE_PARAMS, STRIDED_COPY_PARAMS, UNIFORMS } from './contracts.js';
import elementwise from '../../../shaders/elementwise.wgsl';
import matmul from '../../../shaders/matmul.wgsl';
import matmul_subgroup from '../../../shaders/matmul_subgroup.wgsl';
import matmul_packed from '../../../shaders/matmul_packed.wgsl';
import gemm_pack from '../../../shaders/gemm_pack.wgsl';
import gemm_subgroup from '../../../shaders/gemm_subgroup.wgsl';
import gemm_k4 from '../../../shaders/gemm_k4.wgsl';
import reduce from '../../../shaders/reduce.wgsl';
import softmax_xent from '../../../shaders/softmax_xent.wgsl';
import unary from '../../../shaders/unary.wgsl';
import gemm_store from '../../../shaders/gemm_store.wgsl';
import im2col from '../../../shaders/im2col.wgsl';
import col2im from '../../../shaders/col2im.wgsl';
import pool from '../../../shaders/pool.wgsl';
import maxout from '../../../shaders/maxout.wgsl';
import log_softmax from '../../../shaders/log_softmax.wgsl';
import strided_copy from '../../../shaders/strided_copy.wgsl';
import dropout from '../../../shaders/dropout.wgsl';
import randn from '../../../shaders/randn.wgsl';
import hash32 from '../../../shaders/hash32.wgsl';
import running_update from '../../../shaders/running_update.wgsl';
import layer_norm from '../../../shaders/layer_norm.wgsl';
import optim from '../../../shaders/optim.wgsl';
import embedding from '../../../shaders/embedding.wgsl';
import softmax from '../../../shaders/softmax.wgsl';
import topk from '../../../shaders/topk.wgsl';
import label_count from '../../../shaders/label_count.wgsl';
import attention from '../../../shaders/attention.wgsl';
import attention_grad from '../../../shaders/attention_grad.wgsl';
import half_types from '../../../shaders/half.wgsl';
import window_geometry from '../../../shaders/window_geometry.wgsl';
import conv_gemm from '../../../shaders/conv_gemm.wgsl';
import attention_subgroup from '../../../shaders/attention_subgroup.wgsl';

export const SHADERS = {
  elementwise, matmul, matmul_subgroup, matmul_packed, gemm_pack, reduce, softmax_xent, im2col, col2im, pool, maxout,
  log_softmax, strided_copy, dropout, randn, running_update, layer_norm, optim, embedding, softmax, topk, label_count, attention, attention_grad, conv_gemm,
  attention_subgroup,
} satisfies Record<ShaderName, string>;

/**
 * WGSL shared by several shaders, pasted where a source has a line `#include NAME` (WGSL has no includes). A piece
 * may include others; each is pasted once per shader, at its first include. Some pieces are generated from the
 * TypeScript tables they must agree with (contracts.ts).
 */
const INCLUDES: Record<string, string> = {
  unary, gemm_store, gemm_subgroup, gemm_k4, hash32, half_types, window_geometry,
  op_codes: opCodesWgsl(),
  optim_hyper: optimHyperWgsl(),
  elementwise_params: ELEMENTWISE_PARAMS.wgsl(),
  reduce_params: REDUCE_PARAMS.wgsl(),
  strided_copy_params: STRIDED_COPY_PARAMS.wgsl(),
  ...Object.fromEntries(Object.entries(UNIFORMS).map(([piece, u]) => [piece, u.wgsl()])),
};

function withIncludes(name: string, src: string, seen = new Set<string>()): string {
  return src.replace(/^#include[ \t]+(\w+)[ \t]*$/gm, (_, inc: string) => {
    if (!(inc in INCLUDES)) throw new Error(`shaders/${name}.wgsl: no shader piece '${inc}' to include (known: ${Object.keys(INCLUDES).join(', ')})`);
    if (seen.has(inc)) return '';
    seen.add(inc);
    return withIncludes(name, INCLUDES[inc], seen);
  });
}

/**
 * The shaders whose tensor bindings may hold f16 (`#include half_types`): a launch of one takes the switches HALF and
 * F16_1 .. F16_4 (halfDefines), binding k being f16 where F16_k is on.
 */
export const HALF_SHADERS: ReadonlySet<ShaderName> = new Set<ShaderName>(['elementwise', 'reduce', 'matmul', 'matmul_subgroup', 'matmul_packed', 'gemm_pack']);

/** The half_types switches for bindings 1 .. 4, `half[k - 1]` saying whether binding k is stored as f16. */
export function halfDefines(half: readonly boolean[]): Record<string, boolean> {
  const d: Record<string, boolean> = { HALF: half.some((h) => h) };
  for (let k = 1; k <= 4; k++) d[`F16_${k}`] = !!half[k - 1];
  return d;
}

export function shaderSource(name: ShaderName, defines: Record<string, boolean> = {}): string {
  if (HALF_SHADERS.has(name)) defines = { ...halfDefines([]), ...defines }; // f32 bindings unless a launch says otherwise
  const src = SHADERS[name] === undefined ? undefined : withIncludes(name, SHADERS[name]);
  if (src === undefined) throw new Error(`webgpu: no shader named '${name}' in shaders/`);
  const strings: string[] = [];
  const values: boolean[] = [];
  let last = 0;
  for (const m of src.matchAll(/#(if|elif)[ \t]+(\w+)/g)) {
    if (!(m[2] in defines)) throw new Error(`shaders/${name}.wgsl: switch '${m[2]}' is not defined (defined: ${Object.keys(defines).join(', ') || 'none'})`);
    strings.push(src.slice(last, m.index) + `#${m[1]} `);
    values.push(defines[m[2]]);
    last = m.index! + m[0].length;
  }
  strings.push(src.slice(last));
  // `enable` directives come before every declaration: the half-precision one goes first of all.
  return (defines.HALF ? 'enable f16;\n' : '') + wgsl(Object.assign(strings, { raw: strings }) as unknown as TemplateStringsArray, ...values);
}
