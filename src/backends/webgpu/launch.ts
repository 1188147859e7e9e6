// What a kernel launch is, and the helpers every kernel family uses to describe one.
import { Tensor } from '../../graph/tensor.js';
import { Shape, ShapeError, fmt } from '../../graph/shape.js';
import type { OpName, Node } from '../../graph/op_table.js';

/**
 * Memory private to a kernel (a GEMM's packed operands): slot `scratch` of the executable's scratch, at least `bytes`
 * long. Steps run one after another, so every step's slot 0 is one allocation, sized for the largest need. With
 * `texture`, the slot is an rgba32float texture PANEL_TEXTURE_WIDTH texels wide, holding the vec4s in row-major
 * order: the packing pass binds it as a storage texture and the GEMM as a sampled one (textureLoad), because on
 * llvmpipe a texel fetch for 8 lanes costs a fraction of a storage-buffer load (see shaders/matmul_packed.wgsl).
 */
export interface Scratch { scratch: number; bytes: number; texture?: boolean }
/** Scratch textures are this many texels wide; with WebGPU's default 8192 rows that is 32M vec4s (512 MB) at most. */
export const PANEL_TEXTURE_WIDTH = 4096;
export const PANEL_TEXTURE_TEXELS = PANEL_TEXTURE_WIDTH * 8192;
/**
 * Tensors the plan keeps in one buffer (an arena: schedule/plan.ts for gradients, a backend for variables), bound as
 * one range of `bytes` from the first one's start; `offsets` (bytes from the first) is where each must be, which the
 * backend checks.
 */
export interface Span { span: readonly Tensor[]; offsets: readonly number[]; bytes: number }
/** Constant words the kernel reads (a work table), written once when the plan is compiled. */
export interface Table { table: Uint32Array }
/** null: a binding number the shader does not use in this variant (its switch is off). */
export type Binding = Tensor | Scratch | Span | Table | null;
export const isScratch = (b: Binding): b is Scratch => b !== null && 'scratch' in b;
export const isSpan = (b: Binding): b is Span => b !== null && 'span' in b;
export const isTable = (b: Binding): b is Table => b !== null && 'table' in b;
export const bindingBytes = (b: Tensor | Scratch, vec4 = false, half = false): number =>
  (isScratch(b) ? b.bytes : vec4 ? Math.ceil(Math.max(b.size, 1) / 4) * (half ? 8 : 16) : half ? Math.ceil(Math.max(b.size, 1) / 2) * 4 : Math.max(b.size, 1) * 4);

/** The shaders in shaders/ a launch may name (their sources: shaders.ts). */
export type ShaderName =
  | 'elementwise' | 'reduce' | 'matmul' | 'matmul_subgroup' | 'matmul_packed' | 'gemm_pack' | 'softmax_xent' | 'im2col'
  | 'col2im' | 'pool' | 'maxout' | 'log_softmax' | 'strided_copy' | 'dropout' | 'randn' | 'running_update' | 'layer_norm' | 'optim'
  | 'embedding' | 'softmax' | 'topk' | 'label_count' | 'attention' | 'attention_grad' | 'attention_subgroup' | 'conv_gemm';

export interface Launch {
  shader: ShaderName;
  defines?: Record<string, boolean>;
  constants?: Record<string, number>;
  /** Uniform data at binding 0, written once at compile time. */
  uniform: ArrayBuffer;
  /** For kernels whose uniform can change between runs (optimizer hyper-parameters): its current value. */
  dynamicUniform?: () => ArrayBuffer;
  bindings: Binding[];
  /**
   * The workgroup size the shader is compiled with, stated here (the limits check reads it): a 1-D shader takes it as
   * its `WG` override, which has no default, so a launch that does not pass it fails to compile (see `spread`); the
   * GEMMs take it from their tile constants.
   */
  workgroupSize: readonly [number, number?, number?];
  workgroups: [number, number, number];
  /**
   * Its shader reads its tensors as array<vec4<f32>>: each is bound rounded up to whole vec4s (16 bytes; every buffer
   * the backend makes is at least that), the shader leaving lanes past the tensor's end unchanged.
   */
  vec4?: true;
  /** Launches that run first, in order, in the same step: a GEMM packing its operands into scratch. */
  before?: Launch[];
}

/** The launch of op O's kernel for a node. */
export type WebGpuKernel<O extends OpName = OpName> = (n: Node<O>) => Launch;
/** Launches for some ops, each typed by its op: what the kernel families export. */
export type WebGpuKernels = Partial<{ [O in OpName]: WebGpuKernel<O> }>;

export const MAX_RANK = 6;
export const MAX_GRID = 65535;

/** Spread `groups` workgroups over x and y; shaders rebuild the flat index from num_workgroups. */
export function grid(op: string, groups: number): [number, number, number] {
  if (groups <= MAX_GRID) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / MAX_GRID);
  if (y > MAX_GRID) throw new ShapeError(op, `needs ${groups} workgroups, over the ${MAX_GRID}² a dispatch can address`);
  return [MAX_GRID, y, 1];
}

/** A 1-D launch: `invocations` spread over workgroups of `size`, which the shader takes as its `WG` override. */
export function spread(op: string, invocations: number, size: number): { workgroupSize: [number]; workgroups: [number, number, number]; constants: { WG: number } } {
  return { workgroupSize: [size], workgroups: grid(op, Math.ceil(invocations / size)), constants: { WG: size } };
}

export const f32bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
export const pad = (xs: readonly number[]) => [...xs, ...Array(MAX_RANK - xs.length).fill(0)];

export function checkRank(op: string, s: Shape) {
  if (s.length > MAX_RANK) throw new ShapeError(op, `rank ${s.length} ${fmt(s)} exceeds the WebGPU kernels' maximum rank ${MAX_RANK}`);
}

