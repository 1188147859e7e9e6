// What a model config would allocate, worked out from the config before any layer is built: a layer with "out": 1e9
// or an input of [100000, 100000] must be refused with the layer and the bytes named, not discovered as a failed
// typed-array allocation (or a machine swapping) partway through building. Also the nesting a config may have, which
// bounds every recursive walk over it (building, validation, error messages).

/** One layer of a model config, as config.ts declares it (repeated here so that the two files do not import each other). */
type LayerConfig = { type: string; [field: string]: unknown };

export interface ModelBudget {
  /** The largest single tensor, in bytes: a parameter, or one example's activations. */
  tensorBytes: number;
  /** All parameters together, in bytes (training keeps about three more copies: gradients and optimizer state). */
  totalBytes: number;
}

/** 1 GiB per tensor and 2 GiB of parameters: far above every model this tool trains, far below what would swap. */
export const DEFAULT_BUDGET: ModelBudget = { tensorBytes: 2 ** 30, totalBytes: 2 ** 31 };

/** The deepest JSON a model config may be: residual blocks nest two levels each (object, then its layers array). */
export const MAX_CONFIG_DEPTH = 64;

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);

/** The parameter tensors a layer would allocate for input `shape` ([batch, ...]), when its rank is the one it takes. */
export function parameterShapes(c: LayerConfig, shape: readonly number[]): Record<string, number[]> {
  const r = shape.length;
  switch (c.type) {
    case 'linear': return r === 2 ? { weight: [shape[1], c.out as number], bias: [c.out as number] } : {};
    case 'conv2d': return r === 4 ? { weight: [c.out as number, shape[1], ...pair(c.kernel)], bias: [c.out as number] } : {};
    case 'batchnorm1d': case 'batchnorm2d': return r === 2 || r === 4 ? { 'gamma, beta and running statistics': [4, shape[1]] } : {};
    case 'prelu': return { alpha: [c.per_channel ? shape[1] : 1] };
    case 'rnn': case 'lstm': case 'gru': {
      if (r !== 3) return {};
      const h = c.hidden as number, gates = c.type === 'lstm' ? 4 : c.type === 'gru' ? 3 : 1;
      return { 'input weights': [shape[2], gates * h], 'hidden weights': [h, gates * h], biases: [2, gates * h] };
    }
    default: return {};
  }
}

/** Tracks the bytes of a model as it is built; each check throws (via `fail`) with the layer and the bytes named. */
export class BudgetTracker {
  private total = 0;
  constructor(private budget: ModelBudget, private fail: (message: string) => never) {}

  /** Before building a layer: its parameters must fit one by one and together with the layers before it. */
  parameters(where: string, c: LayerConfig, inShape: readonly number[]): void {
    for (const [name, s] of Object.entries(parameterShapes(c, inShape))) {
      const bytes = prod(s) * 4;
      if (bytes > this.budget.tensorBytes) this.fail(`${where}: its ${name} [${s.join(', ')}] would need ${bytes} bytes, more than the ${this.budget.tensorBytes} bytes one tensor may have`);
      this.total += bytes;
      if (this.total > this.budget.totalBytes) this.fail(`${where}: the parameters up to here would need ${this.total} bytes, more than the model budget of ${this.budget.totalBytes} bytes`);
    }
  }

  /** One example's activations, at the input or after a layer ([batch, ...] with the batch dimension left out). */
  activations(where: string, shape: readonly number[]): void {
    const bytes = prod(shape.slice(1)) * 4;
    if (bytes > this.budget.tensorBytes) this.fail(`${where}: one example's ${where.endsWith('"input"') ? 'input' : 'output'} [batch, ${shape.slice(1).join(', ')}] would need ${bytes} bytes, more than the ${this.budget.tensorBytes} bytes one tensor may have`);
  }
}

/**
 * How deep `value` nests (arrays and objects), counted without recursion so that a config nested 100,000 deep is
 * measured rather than overflowing the stack; returns `max + 1` as soon as it is deeper than `max`.
 */
export function jsonDepth(value: unknown, max: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > max) return max + 1;
    deepest = Math.max(deepest, d + 1);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** How deep JSON text nests, from its brackets (strings skipped), so that it can be refused before JSON.parse. */
export function jsonTextDepth(text: string, max: number): number {
  let depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) { if (++depth > deepest && (deepest = depth) > max) return max + 1; }
    else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return deepest;
}
