// Reference kernels of the sequence-model ops (src/graph/attention.ts): embedding lookup and its gradient, the
// masked softmax, the count of labels that are not ignored, and top-k. Sums accumulate in float64.
import { softmaxRows, softmaxRowEnd } from '../../graph/attention.js';
import type { Node } from '../../graph/op_table.js';
import { Arr, CpuKernels } from './loops.js';

function embedding(n: Node<'embedding'>, [ids, table]: Arr[], out: Float32Array): void {
  const D = table.length / n.inputs[1].shape[0];
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i] * D, (ids[i] + 1) * D), i * D);
}

/** Row v of d table: the sum, in position order, of dy's rows where ids = v. */
function embeddingGrad(n: Node<'embedding_grad'>, [ids, dy]: Arr[], out: Float32Array): void {
  const [V, D] = n.shape;
  const acc = new Float64Array(V * D);
  for (let i = 0; i < ids.length; i++) for (let d = 0; d < D; d++) acc[ids[i] * D + d] += dy[i * D + d];
  out.set(acc);
}

function softmax(n: Node<'softmax'>, [x, lengths]: Arr[], out: Float32Array): void {
  const s = softmaxRows(n);
  out.fill(0);
  for (let r = 0; r < s.rows; r++) {
    const row = r * s.C, end = softmaxRowEnd(r, s, lengths);
    if (end <= 0) continue;
    let mx = -Infinity, z = 0;
    for (let c = 0; c < end; c++) mx = Math.max(mx, x[row + c]);
    for (let c = 0; c < end; c++) z += Math.exp(x[row + c] - mx);
    for (let c = 0; c < end; c++) out[row + c] = Math.exp(x[row + c] - mx) / z;
  }
}

function labelCount(n: Node<'label_count'>, [labels]: Arr[], out: Float32Array): void {
  let k = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== n.attrs.ignore) k++;
  out[0] = Math.max(k, 1);
}

/** Per row, k passes, each taking the largest entry that ranks below the previous pick (value desc, index asc). */
function topk(n: Node<'topk'>, [x]: Arr[], out: Float32Array): void {
  const idx = out as unknown as Int32Array; // an int32 node: the backend hands it an Int32Array
  const k = n.attrs.k, C = n.inputs[0].shape[n.inputs[0].rank - 1], rows = x.length / C;
  for (let r = 0; r < rows; r++) {
    let pv = Infinity, pi = -1;
    for (let j = 0; j < k; j++) {
      let bv = -Infinity, bi = -1;
      for (let c = 0; c < C; c++) {
        const v = x[r * C + c];
        const below = v < pv || (v === pv && c > pi);
        if (below && (bi < 0 || v > bv)) { bv = v; bi = c; }
      }
      idx[r * k + j] = bi;
      pv = bv; pi = bi;
    }
  }
}

export const ATTENTION_CPU_KERNELS = {
  embedding, embedding_grad: embeddingGrad, softmax, label_count: labelCount, topk,
} satisfies CpuKernels;
