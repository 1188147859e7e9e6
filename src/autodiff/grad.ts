// Reverse-mode autodiff, graph to graph: walk the forward graph in reverse topological order and build the
// backward graph from GRAD_RULES. The result is more graph, which the scheduler plans together with the forward.
import { Tensor } from '../graph/tensor.js';
import { ShapeError, fmt } from '../graph/shape.js';
import * as ops from '../graph/ops.js';
import { concat, pad } from '../graph/shape_ops.js';
import { isOp } from '../graph/op_table.js';
import { GRAD_RULES } from './rules.js';
import { regionOf, regionNodes, markGradRegion } from '../graph/composite.js';
import { topoSort } from '../graph/topo.js';

/**
 * Gradients of the scalar `loss` with respect to each of `wrt` (zeros where `loss` does not depend on one). With `dy`,
 * `loss` may be any tensor and `dy` is the gradient arriving at it, of its shape: the vector-Jacobian product
 * dyᵀ·∂loss/∂w, as PyTorch's `y.backward(dy)` or `torch.autograd.grad(y, w, dy)`, for driving one part of a model
 * with the gradient the rest would send it.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], dy?: Tensor): Tensor[] {
  if (dy) {
    if (fmt(dy.shape) !== fmt(loss.shape)) throw new ShapeError('grad', `the upstream gradient's shape ${fmt(dy.shape)} must equal the output's ${fmt(loss.shape)}`);
    if (dy.dtype !== loss.dtype) throw new ShapeError('grad', `the upstream gradient's dtype ${dy.dtype} must equal the output's ${loss.dtype}`);
  } else if (loss.size !== 1) throw new ShapeError('grad', `expected a scalar loss, got shape ${fmt(loss.shape)} (pass the upstream gradient dy to differentiate a tensor)`);
  const order = topoSort([loss]);
  // Only nodes on a path from some `wrt` to the loss need a gradient.
  const wanted = new Set<Tensor>(wrt);
  for (const n of order) if (n.inputs.some((i) => wanted.has(i))) wanted.add(n);

  // Each tensor's gradient contributions, summed (total) when the walk reaches the tensor: all its consumers come
  // after it in topological order, so all have added theirs by then.
  const grads = new Map<Tensor, Tensor[]>([[loss, [dy ?? ops.constant(1, loss.shape)]]]);
  const accumulate = (into: Map<Tensor, Tensor[]>, x: Tensor, g: Tensor) => { const l = into.get(x); if (l) l.push(g); else into.set(x, [g]); };
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    const dy = total(grads.get(n));
    // The sum stands in for its parts: a tensor in `wrt` returns the very node its inputs' gradients were built from.
    if (dy) grads.set(n, [dy]);
    if (!dy || n.inputs.length === 0 || !n.inputs.some((x) => wanted.has(x))) continue;
    const region = regionOf(n), nodes = region && regionNodes(n, region.inputs);
    if (region && nodes) {
      // A composite is differentiated as a unit, with the same rules, so that the gradient of each of its inputs is
      // one node the scheduler can recognise and replace with a fused backward kernel (schedule/fuse.ts).
      const local = backward(nodes, n, dy, (x) => wanted.has(x));
      region.inputs.forEach((x, k) => {
        const g = total(local.get(x));
        if (!g || !wanted.has(x)) return;
        markGradRegion(g, { region, wrt: k, dy });
        accumulate(grads, x, g);
      });
      continue;
    }
    backward([n], n, dy, (x) => wanted.has(x), grads);
  }
  return wrt.map((w) => total(grads.get(w)) ?? ops.broadcastTo(ops.constant(0), w.shape));

  /** Apply the rules of `nodes` (topological order), from `dy` at `top`, accumulating into `into`. */
  function backward(nodes: readonly Tensor[], top: Tensor, dy: Tensor, want: (x: Tensor) => boolean, into = new Map<Tensor, Tensor[]>()): Map<Tensor, Tensor[]> {
    const local = new Map<Tensor, Tensor[]>([[top, [dy]]]);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i], g = total(local.get(n));
      if (!g || n.inputs.length === 0 || !n.inputs.some(want)) continue;
      const rule = GRAD_RULES[n.op];
      if (!rule) throw new Error(`grad: no gradient rule for op '${n.op}' (node ${n})`);
      rule(n, g).forEach((gx, k) => {
        const x = n.inputs[k];
        if (gx && want(x)) accumulate(nodes.includes(x) ? local : into, x, foldConstant(gx));
      });
    }
    return into;
  }
}

/**
 * The sum of a tensor's gradient contributions, in the order they came, except that zero-paddings whose boxes lie side
 * by side along one axis become one padding of their concatenation first (joinPads): the gradient of a tensor cut
 * into adjacent slices (q, k and v of one projection, an LSTM's gates, a VAE's mean and log-variance) is then one
 * copy of the slices' gradients, not a padding each and the sums of them.
 */
function total(parts: readonly Tensor[] | undefined): Tensor | undefined {
  if (!parts) return undefined;
  const list = [...parts];
  // A part that takes in another is compared with the rest again: it may now border one it did not.
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const joined = joinPads(list[i], list[j]);
      if (joined) { list[i] = joined; list.splice(j, 1); j = i; }
    }
  }
  return list.reduce((a, b) => foldConstant(ops.add(a, b)));
}

/**
 * pad(a) + pad(b) as pad(concat(a, b)) where the two pads differ along one axis only and there one box ends where the
 * other begins: each element of the sum is one box's value plus zeros, so the values are the same. Undefined otherwise.
 */
function joinPads(a: Tensor, b: Tensor): Tensor | undefined {
  if (!isOp(a, 'pad') || !isOp(b, 'pad') || fmt(a.shape) !== fmt(b.shape)) return undefined;
  const pa = a.attrs.pads, pb = b.attrs.pads, xa = a.inputs[0], xb = b.inputs[0];
  const differ = pa.flatMap((p, d) => (p[0] !== pb[d][0] || p[1] !== pb[d][1] ? [d] : []));
  if (differ.length !== 1) return undefined;
  const ax = differ[0];
  const order = pa[ax][0] + xa.shape[ax] === pb[ax][0] ? [xa, xb, pa, pb] as const : pb[ax][0] + xb.shape[ax] === pa[ax][0] ? [xb, xa, pb, pa] as const : undefined;
  if (!order) return undefined;
  const [first, second, pFirst, pSecond] = order;
  const parts = (t: Tensor) => (isOp(t, 'concat') && t.attrs.axis === ax ? t.inputs : [t]);
  return pad(concat([...parts(first), ...parts(second)], ax), pFirst.map((p, d) => (d === ax ? [p[0], pSecond[d][1]] : [p[0], p[1]]) as [number, number]));
}

/**
 * A gradient computed from constants alone becomes one constant: a mean's backward is 1 · (1/n), reshaped and broadcast
 * over the batch, which would otherwise be two kernels of a step whose value never changes. Only arithmetic that is
 * exact in float32 from float32 operands folds (+, -, ·, /, negation: one rounding each, the same in float64 rounded
 * to float32), so both backends see the values they would have computed.
 */
function foldConstant(t: Tensor): Tensor {
  const v = constantValue(t);
  if (v !== undefined) return t.op === 'const' ? t : ops.constant(v, t.shape);
  // x · 1 is x, exactly: a sum's backward seeds ones, and the product's gradient dy · b would be a kernel of its own.
  if (t.op === 'mul') for (const [x, one] of [t.inputs, [...t.inputs].reverse()]) {
    if (constantValue(one) === 1 && fmt(x.shape) === fmt(t.shape) && x.dtype === t.dtype) return x;
  }
  return t;
}

const FOLDS: Record<string, (a: number, b: number) => number> = { add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b };

function constantValue(t: Tensor): number | undefined {
  if (t.op === 'const') return Math.fround((t.attrs as { value: number }).value);
  if (t.op === 'reshape' || t.op === 'identity' || t.op === 'neg') {
    const v = constantValue(t.inputs[0]);
    return v === undefined ? undefined : t.op === 'neg' ? -v : v;
  }
  const f = FOLDS[t.op];
  if (!f || (t.attrs as { alpha?: number }).alpha) return undefined;
  const a = constantValue(t.inputs[0]), b = constantValue(t.inputs[1]);
  return a === undefined || b === undefined ? undefined : Math.fround(f(a, b));
}
