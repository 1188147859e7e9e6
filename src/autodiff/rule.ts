// The shape of a gradient rule, in a file of its own so that the rule families (conv_grad.ts, ...) and the table that
// gathers them (rules.ts) both depend on it rather than on each other.
import type { Tensor } from '../graph/tensor.js';
import type { OpName, Node } from '../graph/op_table.js';

/** Given a node of op O and the gradient of its output, the gradient of each input (undefined: none, e.g. labels). */
export type GradRule<O extends OpName = OpName> = (node: Node<O>, dy: Tensor) => (Tensor | undefined)[];
/** Rules for some ops, each typed by its op: what the rule families export. */
export type GradRules = Partial<{ [O in OpName]: GradRule<O> }>;
