// WGSL sources from shaders/, specialised by wgsl-preprocessor's #if/#elif/#else/#endif. A source names its
// switches (`#if BINARY`); here each name becomes a template value for the preprocessor's tag.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import elementwise from '../../../shaders/elementwise.wgsl';
import matmul from '../../../shaders/matmul.wgsl';
import matmul_subgroup from '../../../shaders/matmul_subgroup.wgsl';
import matmul_packed from '../../../shaders/matmul_packed.wgsl';
import gemm_pack from '../../../shaders/gemm_pack.wgsl';
import gemm_subgroup from '../../../shaders/gemm_subgroup.wgsl';
import reduce from '../../../shaders/reduce.wgsl';
import softmax_xent from '../../../shaders/softmax_xent.wgsl';
import unary from '../../../shaders/unary.wgsl';
import gemm_store from '../../../shaders/gemm_store.wgsl';
import { CONV_SHADERS } from './conv.js';
import { ACTIVATION_SHADERS } from './activations.js';
import { SHAPE_OPS_SHADERS } from './shape_ops.js';
import { NORM_SHADERS } from './norm.js';
import { OPTIM_SHADERS } from './optim.js';
import { ATTENTION_SHADERS } from './attention.js';

export const SHADERS: Record<string, string> = { ...CONV_SHADERS, ...ACTIVATION_SHADERS, ...SHAPE_OPS_SHADERS, ...NORM_SHADERS, ...OPTIM_SHADERS, ...ATTENTION_SHADERS, elementwise, matmul, matmul_subgroup, matmul_packed, gemm_pack, reduce, softmax_xent };

/**
 * WGSL shared by several shaders, pasted where a source has a line `#include NAME` (WGSL has no includes). A piece
 * may include others; each is pasted once per shader, at its first include.
 */
const INCLUDES: Record<string, string> = { unary, gemm_store, gemm_subgroup };

function withIncludes(name: string, src: string, seen = new Set<string>()): string {
  return src.replace(/^#include[ \t]+(\w+)[ \t]*$/gm, (_, inc: string) => {
    if (!(inc in INCLUDES)) throw new Error(`shaders/${name}.wgsl: no shader piece '${inc}' to include (known: ${Object.keys(INCLUDES).join(', ')})`);
    if (seen.has(inc)) return '';
    seen.add(inc);
    return withIncludes(name, INCLUDES[inc], seen);
  });
}

export function shaderSource(name: string, defines: Record<string, boolean> = {}): string {
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
  return wgsl(Object.assign(strings, { raw: strings }) as unknown as TemplateStringsArray, ...values);
}
