// Composite ops: an op written as a function of existing primitives. Its nodes are ordinary graph nodes, so autodiff,
// the CPU reference, parity, gradcheck and the fuzzer cover it with no code of their own. A composite also records
// its *region* (its inputs, attributes and output node), which is what lets the scheduler replace the region with one
// fused kernel (src/schedule/fuse.ts) where a backend has one; the CPU reference still runs the region node by node,
// so the fused kernel is always checked against the composite it replaces.
import type { Tensor } from './tensor.js';

/** One composite call: `output` was built from `inputs` by the composite named `op`. */
export interface Region { op: string; inputs: readonly Tensor[]; attrs: Record<string, number>; output: Tensor }

// Kept off the Tensor class: a region is a fact about a subgraph, which only the fusion patterns ask about.
const regions = new WeakMap<Tensor, Region>();

/** Build `op` from primitives with `body`, and remember the region it spans. */
export function composite(op: string, inputs: readonly Tensor[], attrs: Record<string, number>, body: () => Tensor): Tensor {
  const output = body();
  if (!regions.has(output) && !inputs.includes(output)) regions.set(output, { op, inputs: [...inputs], attrs, output });
  return output;
}

/** The composite region whose output `t` is, if any. */
export const regionOf = (t: Tensor): Region | undefined => regions.get(t);

/** A gradient autodiff built for one composite region: d(region output)/d(inputs[wrt]) applied to `dy`. */
export interface GradRegion { region: Region; wrt: number; dy: Tensor }
const gradRegions = new WeakMap<Tensor, GradRegion>();

/** Autodiff records, for each input of a region, which node is that input's gradient (see autodiff/grad.ts). */
export function markGradRegion(g: Tensor, r: GradRegion): void { if (!gradRegions.has(g) && !r.region.inputs.includes(g) && g !== r.dy) gradRegions.set(g, r); }
export const gradRegionOf = (t: Tensor): GradRegion | undefined => gradRegions.get(t);

/**
 * The computed nodes between `stop` (a region's inputs) and `output`, in topological order (output last), constants
 * left out; undefined if a path from the output reaches another leaf, which means the region is not closed over `stop`.
 */
export function regionNodes(output: Tensor, stop: readonly Tensor[]): Tensor[] | undefined {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>(stop);
  let closed = true;
  const visit = (t: Tensor) => {
    if (seen.has(t)) return;
    seen.add(t);
    // A constant is the composite's own arithmetic (1/n, eps) and has a buffer of its own; any other leaf means the
    // walk escaped the region.
    if (t.inputs.length === 0) { if (t.op !== 'const') closed = false; return; }
    t.inputs.forEach(visit);
    order.push(t);
  };
  visit(output);
  return closed ? order : undefined;
}

/** What a composite's fuzz generator may ask of the fuzzer: fresh inputs and random choices (src/check/fuzz.ts). */
export interface FuzzDraw {
  /** A new float input of `shape`, drawn from N(0, scale²). */
  fresh(shape: number[], scale?: number): Tensor;
  pick<T>(xs: readonly T[]): T;
  int(lo: number, hi: number): number;
}

/**
 * What a composite declares beside itself so the shared harnesses run it: `examples` (odd sizes) for the gradcheck and
 * parity suites, and a fuzz generator. Nothing in those harnesses names a composite.
 */
export interface CompositeSpec {
  /** The builder's name, as the fuzzer reports it. */
  name: string;
  examples: { name: string; shapes: number[][]; f: (...xs: Tensor[]) => Tensor }[];
  fuzz: { ok: (x: Tensor) => boolean; make: (d: FuzzDraw, x: Tensor) => Tensor };
}
