// Reverse-mode autodiff, graph to graph: walk the forward graph in reverse topological order and build the
// backward graph from GRAD_RULES. The result is more graph, which the scheduler plans together with the forward.
import { Tensor } from '../graph/tensor.js';
import { ShapeError, fmt } from '../graph/shape.js';
import * as ops from '../graph/ops.js';
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

  const grads = new Map<Tensor, Tensor>([[loss, dy ?? ops.constant(1, loss.shape)]]);
  const accumulate = (into: Map<Tensor, Tensor>, x: Tensor, g: Tensor) => { const prev = into.get(x); into.set(x, prev ? foldConstant(ops.add(prev, g)) : g); };
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    const dy = grads.get(n);
    if (!dy || n.inputs.length === 0 || !n.inputs.some((x) => wanted.has(x))) continue;
    const region = regionOf(n), nodes = region && regionNodes(n, region.inputs);
    if (region && nodes) {
      // A composite is differentiated as a unit, with the same rules, so that the gradient of each of its inputs is
      // one node the scheduler can recognise and replace with a fused backward kernel (schedule/fuse.ts).
      const local = backward(nodes, n, dy, (x) => wanted.has(x));
      region.inputs.forEach((x, k) => {
        const g = local.get(x);
        if (!g || !wanted.has(x)) return;
        markGradRegion(g, { region, wrt: k, dy });
        accumulate(grads, x, g);
      });
      continue;
    }
    backward([n], n, dy, (x) => wanted.has(x), grads);
  }
  return wrt.map((w) => grads.get(w) ?? ops.broadcastTo(ops.constant(0), w.shape));

  /** Apply the rules of `nodes` (topological order), from `dy` at `top`, accumulating into `into`. */
  function backward(nodes: readonly Tensor[], top: Tensor, dy: Tensor, want: (x: Tensor) => boolean, into = new Map<Tensor, Tensor>()): Map<Tensor, Tensor> {
    const local = new Map<Tensor, Tensor>([[top, dy]]);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i], g = local.get(n);
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
