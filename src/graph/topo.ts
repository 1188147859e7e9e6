// Topological order of a graph: autodiff walks it backwards, the scheduler plans it, the checkers compare along it.
import type { Tensor } from './tensor.js';

/** Every node the roots depend on, each after its inputs (iterative DFS: graphs of deep unrolled RNNs overflow recursion). */
export function topoSort(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const done = new Set<Tensor>();
  const stack: [Tensor, number][] = roots.map((r) => [r, 0]);
  stack.reverse();
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [n, k] = top;
    if (done.has(n)) { stack.pop(); continue; }
    if (k < n.inputs.length) { top[1]++; if (!done.has(n.inputs[k])) stack.push([n.inputs[k], 0]); continue; }
    stack.pop();
    done.add(n);
    order.push(n);
  }
  return order;
}
