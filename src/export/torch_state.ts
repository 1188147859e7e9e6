// Tensors between wgtrain's names and layouts and a PyTorch state_dict's, by the links of torch_layers.ts: export
// cuts and transposes wgtrain's variables (and, slot by slot, the optimizer's state the same way, since every
// optimizer here is elementwise); import puts them back and names every tensor that does not fit.
import type { ReadTensor, SafeTensor } from '../store/safetensors.js';
import { UserError } from '../util/errors.js';
import type { TensorLink, TorchModel } from './torch_layers.js';

/** A PyTorch state dict that does not fit the model: the message lists every tensor at fault. */
export class StateDictError extends UserError {
  override name = 'StateDictError';
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** The PyTorch tensor a link holds, cut from the wgtrain tensor `w` (shape `wgShape`). */
function cut(link: TensorLink, w: Float32Array, wgShape: number[]): Float32Array {
  const l = link.layout;
  if (l.kind === 'same') return Float32Array.from(w);
  if (l.kind === 'zero') return new Float32Array(size(link.shape));
  if (l.kind !== 'rows') throw new Error(`cut: layout ${l.kind} has no wgtrain tensor`);
  const cols = wgShape[1], out = new Float32Array(l.count * cols);
  for (let i = 0; i < l.count; i++) for (let j = 0; j < cols; j++) out[j * l.count + i] = w[(l.start + i) * cols + j];
  return out;
}

/** Write the PyTorch tensor `t` of a link back into the wgtrain tensor `w` (the inverse of `cut`; `zero` adds). */
function paste(link: TensorLink, t: Float32Array, w: Float32Array, wgShape: number[]): void {
  const l = link.layout;
  if (l.kind === 'same') w.set(t);
  else if (l.kind === 'zero') {
    // Adding zeros would still turn a -0 into +0: skip them, so a state dict exported from wgtrain comes back bit for bit.
    if (t.some((x) => x !== 0)) for (let i = 0; i < w.length; i++) w[i] += t[i];
  } else if (l.kind === 'rows') {
    const cols = wgShape[1];
    for (let i = 0; i < l.count; i++) for (let j = 0; j < cols; j++) w[(l.start + i) * cols + j] = t[j * l.count + i];
  }
}

/**
 * The state dict of `m` from wgtrain values by name (`get(name)`), PyTorch's names and layouts; batch norm's
 * num_batches_tracked is `steps`. `slot` picks an optimizer slot instead (`<name>.<slot>`), over trainable tensors only.
 */
export function toStateDict(m: TorchModel, get: (name: string) => Float32Array | undefined, steps: number, slot?: string): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const link of m.links) {
    if (slot !== undefined && !link.trainable) continue;
    if (link.layout.kind === 'batches') {
      out.set(link.torch, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(steps)) });
      continue;
    }
    const name = slot === undefined ? link.wg : `${link.wg}.${slot}`;
    const w = get(name);
    if (!w) throw new StateDictError(`export: the checkpoint has no tensor '${name}' (needed for PyTorch's '${link.torch}${slot ? ` ${slot}` : ''}')`);
    out.set(link.torch, { dtype: 'F32', shape: link.shape, data: cut(link, w, m.wgShapes.get(link.wg)!) });
  }
  return out;
}

/**
 * wgtrain's values by variable name from a PyTorch state dict. Checks everything before converting anything and
 * throws one StateDictError listing every missing, unexpected, mis-shaped or mis-typed tensor.
 */
export function fromStateDict(m: TorchModel, tensors: ReadonlyMap<string, ReadTensor>, file: string): Map<string, Float32Array> {
  const problems: string[] = [];
  const want = new Map(m.links.map((l) => [l.torch, l]));
  for (const l of m.links) {
    const t = tensors.get(l.torch);
    if (!t) { problems.push(`missing '${l.torch}' ${fmt(l.shape)}`); continue; }
    const dtype = l.layout.kind === 'batches' ? 'I64' : 'F32';
    if (t.dtype !== dtype || fmt(t.shape) !== fmt(l.shape)) problems.push(`'${l.torch}' is ${t.dtype} ${fmt(t.shape)}, expected ${dtype} ${fmt(l.shape)}`);
  }
  for (const k of tensors.keys()) if (!want.has(k)) problems.push(`unexpected '${k}'`);
  if (problems.length) {
    throw new StateDictError(`${file}: does not match the model (${problems.length} tensor${problems.length > 1 ? 's' : ''}): ${problems.join('; ')}. The model expects: ${m.links.map((l) => `${l.torch} ${fmt(l.shape)}`).join(', ')}`);
  }
  const out = new Map<string, Float32Array>();
  // Zero-layout biases add into a tensor another link has filled: do them last.
  const order = [...m.links.filter((l) => l.layout.kind !== 'zero'), ...m.links.filter((l) => l.layout.kind === 'zero')];
  for (const l of order) {
    if (l.layout.kind === 'batches') continue;
    const shape = m.wgShapes.get(l.wg)!;
    let w = out.get(l.wg);
    if (!w) out.set(l.wg, (w = new Float32Array(size(shape))));
    paste(l, tensors.get(l.torch)!.array() as Float32Array, w, shape);
  }
  return out;
}
