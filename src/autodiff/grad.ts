// Reverse-mode autodiff, graph to graph: walk the forward graph in reverse topological order and build the
// backward graph from GRAD_RULES. The result is more graph, which the scheduler plans together with the forward.
import { Tensor } from '../graph/tensor.js';
import { ShapeError, fmt } from '../graph/shape.js';
import * as ops from '../graph/ops.js';
import { GRAD_RULES } from './rules.js';
import { topoSort } from '../schedule/topo.js';

/** Gradients of the scalar `loss` with respect to each of `wrt` (zeros where `loss` does not depend on one). */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.size !== 1) throw new ShapeError('grad', `expected a scalar loss, got shape ${fmt(loss.shape)}`);
  const order = topoSort([loss]);
  // Only nodes on a path from some `wrt` to the loss need a gradient.
  const wanted = new Set<Tensor>(wrt);
  for (const n of order) if (n.inputs.some((i) => wanted.has(i))) wanted.add(n);

  const grads = new Map<Tensor, Tensor>([[loss, ops.constant(1, loss.shape)]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    const dy = grads.get(n);
    if (!dy || n.inputs.length === 0 || !n.inputs.some((x) => wanted.has(x))) continue;
    const rule = GRAD_RULES[n.op];
    if (!rule) throw new Error(`grad: no gradient rule for op '${n.op}' (node ${n})`);
    rule(n, dy).forEach((g, k) => {
      const x = n.inputs[k];
      if (!g || !wanted.has(x)) return;
      const prev = grads.get(x);
      grads.set(x, prev ? ops.add(prev, g) : g);
    });
  }
  return wrt.map((w) => grads.get(w) ?? ops.broadcastTo(ops.constant(0), w.shape));
}
