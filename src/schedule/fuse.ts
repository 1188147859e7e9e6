// Fusion: elementwise work that would be several kernels becomes one. These patterns only ever remove a round trip
// through memory and never recompute anything:
//  - a transpose read by a single elementwise op is not materialised: that op reads its input through permuted
//    strides (a conv layer's [O, N, P] -> [N, O, P] transpose folds into its bias add);
//  - a unary op (or one with a constant operand) applied to the only use of another elementwise op's result is
//    applied in the same kernel, up to MAX_CHAIN of them (relu(x + b), tanh(x · s), step(1e-5 - (a + b)));
//  - a sum of every element of such a chain, or of a value, and a constant factor after it, is that chain's kernel
//    too (a loss's mean, a count over a batch): fuseSums.
//  - a bias add on the only use of a 2-D matmul, and a ReLU, sigmoid or tanh after it, become the GEMM's epilogue
//    (act(A·B + b) as it is stored).
//  - relu_grad(y, maxpool_grad(y, dy)): the ReLU's gradient applied by the pooling backward as it stores.
//  - relu_grad(h, dY·Wᵀ) (sigmoid's and tanh's gradients too), a dense layer's backward: the GEMM's epilogue.
//  - maxout(log_softmax(x)) over whole rows: the log-softmax kernel stores each row's largest value alone.
// So a dense layer is one GEMM (a conv layer is one implicit-GEMM kernel, a composite pattern below).
// Values that are outputs of the plan, or read by more than one node, are never fused away: they must exist.
//
// Composite ops with a fused kernel (FUSED_COMPOSITES) are a third kind of pattern: the region a composite built
// (graph/composite.ts), or the gradient autodiff built for one of its inputs, becomes one step running that kernel.
// A gradient kernel recomputes the forward statistics it needs from the region's inputs; the forward nodes it
// recomputes stay steps of their own where something else reads them (`recomputes`). A composite's gradients can also
// be one step writing each of them (`joint`), when they share work: attention's row statistics and weights.
// A gradient can also ride on another input's gradient step (`rides`): a conv's bias gradient, the sum of the dy that
// the weight gradient's GEMM reads anyway, is one more column of that GEMM instead of two reductions of dy.
import { Tensor } from '../graph/tensor.js';
import { UNARY, BINARY } from '../graph/elementwise.js';
import { Region, regionOf, gradRegionOf, regionNodes } from '../graph/composite.js';
import { OP_FACTS, OpName, factsOf, isView } from '../graph/op_table.js';
import { convAlgorithm, convFits, convShapeOf } from './conv_algorithm.js';
import { RECOMPUTE_AUTO, ATTENTION_FUSED_BACKWARD_KEYS } from '../graph/attention.js';

/**
 * A fused step: `nodes` (in order; the last is the step's own node) run as one kernel reading `inputs`. `pattern`
 * names the fused kernel of a composite; the CPU reference runs `nodes` one by one either way. A step that writes
 * several values (a composite's `joint` gradients) lists them in `outputs`, by input index (undefined for an input
 * whose gradient nobody asked for); the step's own node is the first of them in the plan's order, so each is
 * written before anything reads it, and the planner gives each a buffer of its own.
 */
export interface Fused {
  nodes: Tensor[];
  inputs: Tensor[];
  pattern?: { kernel: FusedKernel; attrs: Record<string, number> };
  recomputes?: ReadonlySet<Tensor>;
  outputs?: (Tensor | undefined)[];
  /**
   * Shared by the forward step and the joint gradient step of one region, and unique in the plan: a backend may hand
   * data from the one to the other through it (the attention forward's row logsumexps, which the gradient then does
   * not recompute).
   */
  link?: number;
}

/** The fused kernels of composites; each backend that runs fused groups has a launch for every one. */
export type FusedKernel = 'layer_norm' | 'layer_norm_grad' | 'attention' | 'attention_grad' | 'conv2d' | 'conv2d_dx' | 'conv2d_dw';

/**
 * Composites with a fused kernel: the kernel of the forward region, and of the gradient of some inputs (by index), each
 * with the inputs the kernel reads in binding order.
 */
export const FUSED_COMPOSITES: Record<string, {
  forward: FusedKernel;
  /** Whether the kernels can run this region (a size limit of the kernel); always, when absent. */
  fits?: (r: Region) => boolean;
  /** Whether the forward kernel replaces the composite's forward for this region; always, when absent. */
  forwardWhen?: (r: Region) => boolean;
  /** Whether the gradient kernel of input `wrt` replaces the composite's backward for this region; always, when absent. */
  gradsWhen?: (r: Region, wrt: number) => boolean;
  /** The forward kernel can apply one of EPILOGUE_ACTS to its result, so an activation that is its only reader joins it. */
  epilogue?: true;
  /**
   * A node of the region that something outside reads stays a step of its own rather than blocking the kernel (the
   * reshaped weights and transposed dy a conv's im2col passes share with its implicit ones).
   */
  keepShared?: true;
  /**
   * The gradients of one region are one step (the kernel all of `grads` name), writing each of them: they share
   * work a step of its own per input would repeat (attention's row statistics, and the weights dk and dv both need).
   */
  joint?: true;
  /**
   * Gradients that ride on another input's gradient step (input -> host input): one step writes both, through the
   * host's kernel (a conv's bias gradient, a column of ones in the weight gradient's GEMM). Without the host's step, the
   * rider is left to the composite's backward.
   */
  rides?: Record<number, number>;
  /**
   * Values inside the forward region that its kernel can write beside its output (Fused.outputs, after it), so that
   * a gradient the composite's primitives compute may read them without keeping the whole forward composite.
   */
  sides?: (r: Region) => Tensor[];
  grads: Record<number, { kernel: FusedKernel; inputs: (r: Region, dy: Tensor) => Tensor[] }>;
}> = {
  // Head sizes that are multiples of 4 up to 64 (the kernels' per-query vec4 arrays), and q, k, v distinct tensors (a
  // kernel gives the gradient through one of them; attention(x, x, x) sums three). The gradient kernels recompute the
  // weights from q and k, so no [Tq, Tk] matrix is stored in training either; by default from 64 keys on (the
  // threshold measured in src/graph/attention.ts), always with `recompute: true`, never with false. They also read the
  // forward's output o (D_i = dy_i·o_i). One step computes the row statistics once and then dq, dk and dv.
  attention: {
    forward: 'attention',
    joint: true,
    gradsWhen: (r) => r.attrs.recompute === 1 || (r.attrs.recompute === RECOMPUTE_AUTO && r.inputs[1].shape[1] >= ATTENTION_FUSED_BACKWARD_KEYS),
    fits: (r) => r.inputs[0].shape[2] <= 64 && r.inputs[0].shape[2] % 4 === 0 && new Set(r.inputs).size === r.inputs.length,
    grads: Object.fromEntries([0, 1, 2].map((i) => [i, { kernel: 'attention_grad' as const, inputs: (r: Region, dy: Tensor) => [...r.inputs.slice(0, 3), dy, r.output, ...r.inputs.slice(3)] }])),
  },
  // dweight and dbias are sums over rows, which the reduce kernels already do well; dx is per row. dweight sums
  // dy·x̂, so in training the forward kernel also writes x̂ = (x - mean)·rstd (the product the weight multiplies).
  layer_norm: {
    forward: 'layer_norm',
    sides: (r) => r.output.inputs.filter((t) => t.op === 'mul').flatMap((m) => m.inputs.filter((t) => t !== r.inputs[1] && t.op === 'mul')),
    grads: { 0: { kernel: 'layer_norm_grad', inputs: (r, dy) => [r.inputs[0], r.inputs[1], dy] } },
  },
  // Implicit GEMM (shaders/conv_gemm.wgsl) where convAlgorithm says so, else im2col and the GEMM kernels. The
  // weight gradient reads x again and gathers its windows; nothing keeps the columns. The bias gradient (a sum of dy
  // over all but the channel) rides on the implicit weight gradient: dy is its A operand already.
  conv2d: {
    forward: 'conv2d',
    epilogue: true,
    keepShared: true,
    fits: (r) => convFits(convShapeOf(r)),
    forwardWhen: (r) => convAlgorithm('forward', convShapeOf(r)) === 'implicit',
    gradsWhen: (r, wrt) => convAlgorithm(wrt === 0 ? 'dx' : 'dw', convShapeOf(r)) === 'implicit',
    rides: { 2: 1 },
    grads: {
      0: { kernel: 'conv2d_dx', inputs: (r, dy) => [r.inputs[1], dy] },
      1: { kernel: 'conv2d_dw', inputs: (r, dy) => [dy, r.inputs[0]] },
      2: { kernel: 'conv2d_dw', inputs: (r, dy) => [dy, r.inputs[0]] },
    },
  },
};

/** Nodes of a fused group that no step computes on its own: all but what it writes and those it recomputes. */
export const absorbedBy = (g: Fused): Tensor[] => {
  const own = g.outputs ?? [g.nodes[g.nodes.length - 1]];
  return g.nodes.filter((t) => !own.includes(t) && !g.recomputes?.has(t));
};

/** The values a fused step writes: its own node, and with `outputs` each of those. */
export const writtenBy = (n: Tensor, g: Fused | undefined): Tensor[] => (g?.outputs ? g.outputs.filter((t): t is Tensor => t !== undefined) : [n]);

const isMap = (t: Tensor) => t.op in UNARY || t.op in BINARY;
/** A constant, or a view of one: every element holds its value, which a fused chain reads from its uniform. */
const isConstant = (t: Tensor): boolean => (isView(t) ? isConstant(t.inputs[0]) : t.op === 'const');

/** Ops a fused elementwise chain applies after its first (shaders/elementwise.wgsl, CHAIN). */
export const MAX_CHAIN = 3;
/** The elementwise kernel's largest rank (src/backends/webgpu/launch.ts, MAX_RANK). */
const MAX_RANK = 6;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The fused groups among `order` (a topological order of the whole step), keyed by their last node. */
export function fuse(order: readonly Tensor[], outputs: readonly Tensor[]): Map<Tensor, Fused> {
  const uses = new Map<Tensor, number>();
  for (const n of order) for (const x of n.inputs) uses.set(x, (uses.get(x) ?? 0) + 1);
  const pinned = new Set(outputs);
  const private1 = (t: Tensor) => uses.get(t) === 1 && !pinned.has(t);
  const groups = new Map<Tensor, Fused>();

  for (const n of order) {
    if (!isMap(n)) continue;
    // Stage 2: a unary op on the only use of an elementwise op that is not itself a chain of two. Same shape: a
    // broadcast is an identity node of a larger shape, and the chain runs over the first op's elements.
    // A binary op with a constant operand (x - 1e-5, relu_grad(x, 1)) chains as a unary one would: the kernel takes
    // the constant's value, not its buffer.
    const p = n.op in UNARY ? n.inputs[0] : n.inputs.find((x) => !isConstant(x));
    const prev = p && groups.get(p);
    const linkable = n.op in UNARY || (n.inputs.length === 2 && n.inputs.some(isConstant) && !n.inputs.every(isConstant));
    if (p && linkable && isMap(p) && private1(p) && sameShape(p.shape, n.shape) && (prev ? prev.nodes.filter(isMap).length : 1) <= MAX_CHAIN) {
      groups.delete(p);
      groups.set(n, prev ? { nodes: [...prev.nodes, n], inputs: prev.inputs } : { nodes: [p, n], inputs: [...p.inputs] });
      continue;
    }
    // Stage 1: transposes read only by this op, of its own shape (so no broadcast needs composing with them).
    const folded = n.inputs.filter((x) => x.op === 'transpose' && private1(x) && sameShape(x.shape, n.shape));
    if (folded.length) groups.set(n, { nodes: [...folded, n], inputs: n.inputs.map((x) => (folded.includes(x) ? x.inputs[0] : x)) });
  }
  // A chain whose first op had transposes folded in: rebuild its inputs from that op.
  for (const g of groups.values()) {
    const first = g.nodes.find(isMap)!;
    const folded = first.inputs.filter((x) => x.op === 'transpose' && private1(x) && sameShape(x.shape, first.shape));
    g.nodes = [...folded, ...g.nodes.filter((t) => t.op !== 'transpose')];
    g.inputs = first.inputs.map((x) => (folded.includes(x) ? x.inputs[0] : x));
  }
  // GEMM epilogues: add(matmul, bias row), alone or chained with one of EPILOGUE_ACTS. An add with a transpose folded
  // in already has its group keyed by itself and stays as it is.
  const chainOf = new Map<Tensor, Tensor>(), member = new Set<Tensor>();
  for (const [key, g] of groups) {
    g.nodes.forEach((t) => member.add(t));
    if (g.nodes[0].op !== 'transpose') chainOf.set(g.nodes[0], key);
  }
  for (const n of order) {
    if (n.op !== 'add') continue;
    const key = chainOf.get(n) ?? (member.has(n) ? undefined : n);
    if (!key) continue;
    const after = key === n ? [] : [key];
    if (after.length && (!EPILOGUE_ACTS.has(key.op) || groups.get(key)!.nodes.filter(isMap).length !== 2)) continue;
    const mi = n.inputs.findIndex((x) => x.op === 'matmul' && x.rank === 2 && private1(x));
    if (mi < 0) continue;
    const m = n.inputs[mi], b = n.inputs[1 - mi], N = m.shape[1];
    if (!sameShape(n.shape, m.shape) || !(sameShape(b.shape, [N]) || sameShape(b.shape, [1, N]))) continue;
    groups.set(key, { nodes: [m, n, ...after], inputs: [...m.inputs, b] });
  }
  // An activation's gradient on the only use of a 2-D matmul (a dense layer's backward: dH = (dY·Wᵀ) ∘ act'(H)) is
  // the GEMM's epilogue too, reading H as it stores.
  // The product may come through a reshape (a transformer's MLP works on [batch, time, features] and multiplies
  // [batch·time, features]): the flat order is the same.
  for (const n of order) {
    const r = n.inputs[1]?.op === 'reshape' && private1(n.inputs[1]) ? n.inputs[1] : undefined, m = r ? r.inputs[0] : n.inputs[1];
    if (!EPILOGUE_GRADS.has(n.op) || m?.op !== 'matmul' || m.rank !== 2 || !private1(m) || n.inputs[0] === m || n.inputs[0] === r) continue;
    if (!sameShape(n.inputs[0].shape, n.shape) || n.size !== m.size) continue;
    if ([...groups.values()].some((g) => g.nodes.includes(n) || g.nodes.includes(m))) continue;
    groups.set(n, { nodes: [m, ...(r ? [r] : []), n], inputs: [...m.inputs, n.inputs[0]] });
  }
  // The largest log-probability of each row, maxout(log_softmax(x), C) (the training accuracy's, src/train/losses.ts):
  // the log-softmax kernel's row statistics give it with no [rows, C] output.
  for (const n of order) {
    const l = n.inputs[0];
    if (n.op !== 'maxout' || l?.op !== 'log_softmax' || !private1(l) || n.shape[n.rank - 1] !== 1) continue;
    if ([...groups.values()].some((g) => g.nodes.includes(n) || g.nodes.includes(l))) continue;
    groups.set(n, { nodes: [l, n], inputs: [...l.inputs] });
  }
  // Max pooling's backward under a ReLU's: relu_grad(y, maxpool_grad(y, dy)) with y the ReLU's output and the pool's
  // input (a conv layer's relu and pool) is one pass over y.
  for (const n of order) {
    const m = n.inputs[1];
    if (n.op !== 'relu_grad' || m?.op !== 'maxpool_grad' || !private1(m) || m.inputs[0] !== n.inputs[0]) continue;
    if ([...groups.values()].some((g) => g.nodes.includes(n) || g.nodes.includes(m))) continue;
    groups.set(n, { nodes: [m, n], inputs: [...m.inputs] });
  }
  fuseComposites(order, groups, pinned);
  fuseSums(order, groups, private1);
  return groups;
}

/**
 * A sum over every element of an elementwise chain's only use, and a constant factor on the sum's only use (a mean's
 * 1/n), run in the chain's kernel: a loss's mean, or a count of correct predictions over a batch, is then one launch
 * instead of a chain, a reduction and a scalar product (src/train/losses.ts). A bare sum joins its factor the same way.
 * So does a sum of each row of a chain (its trailing dims, read through a reshape or not) where there are
 * ROW_SUM_MIN rows or more: the first half of a long sum (ops.sum splits one into its rows, then their sum), a loss
 * over a batch of large outputs, each row summed by one invocation in the reduce kernel's order.
 */
function fuseSums(order: readonly Tensor[], groups: Map<Tensor, Fused>, private1: (t: Tensor) => boolean): void {
  const member = new Set([...groups.values()].flatMap((g) => g.nodes));
  const users = new Map<Tensor, Tensor[]>();
  for (const n of order) for (const x of n.inputs) users.set(x, [...(users.get(x) ?? []), n]);
  for (const s of order) {
    if (s.op !== 'sum' || member.has(s)) continue;
    const rows = s.size > 1;
    if (rows && !sumsRows(s)) continue;
    const view = rows && s.inputs[0].op === 'reshape' && private1(s.inputs[0]) ? s.inputs[0] : undefined;
    const x = view ? view.inputs[0] : s.inputs[0], g = groups.get(x);
    const chain = g ? (!g.pattern && g.nodes.every((t) => isMap(t) || t.op === 'transpose') ? g : undefined)
      : isMap(x) && !member.has(x) ? { nodes: [x], inputs: [...x.inputs] } : undefined;
    const usable = chain && private1(x) && x.rank <= MAX_RANK;
    const f = users.get(s)?.[0];
    const factor = private1(s) && f?.op === 'mul' && !member.has(f) && f.inputs.some((t) => t !== s && isConstant(t) && t.size === 1) ? f : undefined;
    // A row sum joins a chain or stays the reduce kernel's: alone with its factor it would be a slower reduction.
    if (rows ? !usable : !usable && !factor) continue;
    const nodes = [...(usable ? chain.nodes : []), ...(view ? [view] : []), s, ...(factor ? [factor] : [])];
    if (usable) groups.delete(x);
    groups.set(factor ?? s, { nodes, inputs: usable ? chain.inputs : [x] });
    nodes.forEach((t) => member.add(t));
  }
}

/** Rows a fused row sum needs: fewer would leave most of a CPU driver's threads idle, one invocation per row. */
const ROW_SUM_MIN = 64;

/** Whether sum node `s` adds up the trailing dims of its input, ROW_SUM_MIN rows or more (the reduce kernel's SERIAL case). */
function sumsRows(s: Tensor): boolean {
  const axes = (s.attrs as { axes: number[] }).axes, r = s.inputs[0].rank;
  return s.size >= ROW_SUM_MIN && axes.length > 0 && [...axes].sort((a, b) => a - b).every((a, i) => a === r - axes.length + i);
}

/**
 * The composite patterns (FUSED_COMPOSITES), replacing any elementwise group inside them. Gradient kernels go first,
 * all the gradients of one composite call together or none: they may share intermediates (attention's dq and dk share
 * the score gradient), which each of their kernels recomputes. Then forward kernels, whose intermediates may be read
 * only inside them or inside accepted gradient kernels, which recompute them.
 */
function fuseComposites(order: readonly Tensor[], groups: Map<Tensor, Fused>, pinned: ReadonlySet<Tensor>): void {
  const users = new Map<Tensor, Tensor[]>();
  for (const n of order) for (const x of n.inputs) users.set(x, [...(users.get(x) ?? []), n]);
  const forwards: { n: Tensor; g: Fused; r: Region }[] = [], grads = new Map<Region, { n: Tensor; g: Fused; wrt: number }[]>();
  // A step must compute its node, and a view computes nothing (it shares its input's buffer): a region ending in
  // views (a conv's weight gradient, reshaped to the weights' shape) is keyed by the node under them.
  const under = (n: Tensor, nodes: Tensor[]) => {
    let k = n;
    while (isView(k) && nodes.includes(k.inputs[0])) k = k.inputs[0];
    return { n: k, nodes: nodes.slice(0, nodes.indexOf(k) + 1) };
  };
  for (const n of order) {
    const r = regionOf(n), gr = gradRegionOf(n);
    const spec = FUSED_COMPOSITES[(r ?? gr?.region)?.op ?? ''];
    if (r && spec && (spec.fits?.(r) ?? true) && (spec.forwardWhen?.(r) ?? true)) {
      const all = regionNodes(n, r.inputs);
      if (all) { const { n: k, nodes } = under(n, all); forwards.push({ n: k, r, g: { nodes, inputs: [...r.inputs], pattern: { kernel: spec.forward, attrs: r.attrs } } }); }
    } else if (gr && spec?.grads[gr.wrt] && (spec.fits?.(gr.region) ?? true) && (spec.gradsWhen?.(gr.region, gr.wrt) ?? true)) {
      const { kernel, inputs: inputsOf } = spec.grads[gr.wrt];
      const inputs = inputsOf(gr.region, gr.dy), all = regionNodes(n, inputs);
      const forward = new Set(regionNodes(gr.region.output, gr.region.inputs) ?? []);
      if (all) {
        const { n: k, nodes } = under(n, all);
        grads.set(gr.region, [...(grads.get(gr.region) ?? []), { n: k, wrt: gr.wrt, g: { nodes, inputs, pattern: { kernel, attrs: gr.region.attrs }, recomputes: new Set(nodes.filter((t) => forward.has(t))) } }]);
      }
    }
  }
  // What a kernel replaces must be read only inside it (or inside kernels that recompute it): a value needed elsewhere
  // would be lost.
  const readOnlyIn = (g: Fused, inside: ReadonlySet<Tensor>) => absorbedBy(g).every((t) => !pinned.has(t) && (users.get(t) ?? []).every((u) => inside.has(u)));
  const accept = ({ n, g }: { n: Tensor; g: Fused }) => {
    const goneSet = new Set(absorbedBy(g)), mine = writtenBy(n, g);
    for (const [key, other] of groups) {
      const out = mine.find((m) => key === m || other.nodes.includes(m));
      if (!goneSet.has(key) && !out) continue;
      groups.delete(key);
      // An elementwise chain that had the kernel's output folded in as a transpose (a conv whose bias is added after
      // it) keeps the rest of its chain, reading the kernel's output.
      const rest = other.nodes.filter((t) => !mine.includes(t) && !goneSet.has(t)), first = rest.find(isMap);
      if (!goneSet.has(key) && out && key !== out && first?.inputs.includes(out) && (rest.filter(isMap).length >= 2 || rest.some((t) => t.op === 'transpose'))) {
        groups.set(key, { nodes: rest, inputs: first.inputs.map((x) => (rest.includes(x) ? x.inputs[0] : x)) });
      }
    }
    groups.set(n, g);
  };
  // With `keepShared`, what is read elsewhere stays a step of its own (with what it is computed from) instead.
  const keepShared = (c: { n: Tensor; g: Fused }, inside: ReadonlySet<Tensor>) => {
    const keep = new Set(c.g.recomputes ?? []);
    const stack = absorbedBy(c.g).filter((t) => pinned.has(t) || (users.get(t) ?? []).some((u) => !inside.has(u)));
    while (stack.length) {
      const t = stack.pop()!;
      if (keep.has(t) || t === c.n || !c.g.nodes.includes(t)) continue;
      keep.add(t);
      stack.push(...t.inputs);
    }
    return { n: c.n, g: { ...c.g, recomputes: keep } };
  };
  const specOf = (g: Fused) => Object.values(FUSED_COMPOSITES).find((f) => f.forward === g.pattern!.kernel || Object.values(f.grads).some((x) => x.kernel === g.pattern!.kernel));
  const recomputed = new Set<Tensor>(), joints = new Map<Region, Fused>();
  let links = 0;
  const position = new Map(order.map((t, i) => [t, i]));
  for (const [region, each] of grads) {
    let set: { n: Tensor; g: Fused }[] = each;
    const rides = FUSED_COMPOSITES[region.op].rides;
    if (FUSED_COMPOSITES[region.op].joint) {
      const one = joint(each, position);
      if (!one) continue;
      set = [one];
    } else if (rides) {
      const own = each.filter((c) => rides[c.wrt] === undefined);
      for (const c of each) {
        const at = own.findIndex((h) => h.wrt === rides[c.wrt]), one = at >= 0 ? joint([own[at], c], position) : undefined;
        if (one) own[at] = one;
      }
      if (!own.length) continue;
      set = own;
    }
    const inside = new Set(set.flatMap((c) => c.g.nodes));
    if (specOf(set[0].g)?.keepShared) set = set.map((c) => keepShared(c, inside));
    if (!set.every((c) => readOnlyIn(c.g, inside))) continue;
    set.forEach(accept);
    if (FUSED_COMPOSITES[region.op].joint) joints.set(region, set[0].g);
    inside.forEach((t) => recomputed.add(t));
  }
  for (let c of forwards) {
    const inside = new Set([...c.g.nodes, ...recomputed]);
    if (specOf(c.g)?.keepShared) c = { ...keepShared(c, inside), r: c.r };
    if (!readOnlyIn(c.g, inside)) {
      // Values read outside that the kernel can write as well, each read only after the step (its position).
      const sides = specOf(c.g)?.sides?.(c.r) ?? [], at = position.get(c.n)!;
      const read = absorbedBy(c.g).filter((t) => pinned.has(t) || (users.get(t) ?? []).some((u) => !inside.has(u)));
      const late = (t: Tensor) => (users.get(t) ?? []).every((u) => inside.has(u) || position.get(u)! > at);
      if (!read.every((t) => sides.includes(t) && late(t))) continue;
      c = { ...c, g: { ...c.g, outputs: [c.n, ...sides.filter((t) => read.includes(t))] } };
    }
    const back = joints.get(c.r);
    if (back) c.g.link = back.link = links++;
    accept(c);
    // An activation that is the only reader of the result becomes the kernel's epilogue (relu after a conv layer).
    const act = users.get(c.n)?.[0];
    if (!Object.values(FUSED_COMPOSITES).some((f) => f.epilogue && f.forward === c.g.pattern!.kernel) || !act || users.get(c.n)!.length !== 1 || pinned.has(c.n)) continue;
    if (!EPILOGUE_ACTS.has(act.op) || !(act.op in UNARY) || !sameShape(act.shape, c.n.shape) || [...groups.values()].some((o) => o.nodes.includes(act))) continue;
    groups.delete(c.n);
    groups.set(act, { ...c.g, nodes: [...c.g.nodes, act] });
  }
}

/**
 * The gradient steps of one region as one step writing each gradient, keyed by the first of them in `position`'s
 * order; none when an input the step reads comes later in that order, or not at all (nothing could run it there).
 */
function joint(set: readonly { n: Tensor; g: Fused; wrt: number }[], position: ReadonlyMap<Tensor, number>): { n: Tensor; g: Fused; wrt: number } | undefined {
  const at = (t: Tensor) => position.get(t) ?? Infinity;
  const first = set.reduce((a, c) => (at(c.n) < at(a.n) ? c : a));
  const { inputs, pattern } = first.g;
  // An input absent from the order (the forward's output where nothing else reads it) is never computed.
  if (inputs.some((x) => at(x) >= at(first.n))) return undefined;
  const nodes = new Set(set.flatMap((c) => c.g.nodes)), recomputes = new Set(set.flatMap((c) => [...(c.g.recomputes ?? [])]));
  const outputs: (Tensor | undefined)[] = [];
  for (const c of set) outputs[c.wrt] = c.n;
  const ordered = [...nodes].sort((a, b) => at(a) - at(b));
  return { n: first.n, wrt: first.wrt, g: { nodes: ordered, inputs, pattern, recomputes, outputs: Array.from(outputs) } };
}

/**
 * Activation gradients the GEMM epilogue applies (shaders/gemm_store.wgsl, ACT_GRAD): those of EPILOGUE_ACTS, which
 * read the activation's output, and GELU's, which reads its input.
 */
export const EPILOGUE_GRADS: ReadonlySet<string> = new Set(['relu_grad', 'sigmoid_grad', 'tanh_grad', 'gelu_grad']);

/** Activations the GEMM epilogue applies (shaders/matmul.wgsl, ACT): OpFacts.epilogue. */
export const EPILOGUE_ACTS: ReadonlySet<OpName> = new Set((Object.keys(OP_FACTS) as OpName[]).filter((op) => factsOf({ op }).epilogue));
