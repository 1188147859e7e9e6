// Recurrent cells (Elman RNN, LSTM, GRU) built from existing ops, and a module that unrolls a cell over a sequence.
// Unrolling writes every time step into the graph, so back-propagation through time is plain autodiff over it; that
// suits the short sequences this is for (the graph, and so the compile, grows with T).
import { Tensor, Variable } from '../graph/tensor.js';
import { ShapeError, fmt } from '../graph/shape.js';
import * as ops from '../graph/ops.js';
import { concat, slice } from '../graph/shape_ops.js';
import { Rng, defaultRng } from '../util/rng.js';
import { initWeights } from './init.js';
import { Module } from './module.js';

export interface CellOptions { /** [defaultRng()] */ rng?: Rng; name?: string }

/** One step of a recurrence: state[0] is the hidden output h [B, H]; an LSTM carries its cell state c as state[1]. */
export abstract class Cell {
  constructor(readonly inputSize: number, readonly hiddenSize: number) {}
  abstract step(x: Tensor, state: Tensor[]): Tensor[];
  abstract parameters(): Variable[];
  /** Zeros, one tensor per state, at batch size B. */
  initialState(B: number): Tensor[] {
    return Array.from({ length: this.stateCount }, () => ops.broadcastTo(ops.constant(0), [B, this.hiddenSize]));
  }
  protected get stateCount(): number { return 1; }
  protected check(x: Tensor, state: Tensor[]): void {
    const B = x.shape[0], H = this.hiddenSize;
    if (x.rank !== 2 || x.shape[1] !== this.inputSize || state.length !== this.stateCount || state.some((s) => fmt(s.shape) !== fmt([B, H]))) {
      throw new ShapeError(this.constructor.name, `expected input [batch, ${this.inputSize}] and ${this.stateCount} state(s) [batch, ${H}], got ${fmt(x.shape)} and ${state.map((s) => fmt(s.shape)).join(', ') || 'none'}`);
    }
  }
}

/** Xavier-uniform weights [rows, cols] (the gates are tanh and sigmoid), fan-in `rows`. */
const weight = (rows: number, cols: number, fanOut: number, rng: Rng | undefined, name: string) =>
  new Variable(initWeights('xavier', rows * cols, rows, fanOut, rng ?? defaultRng()), [rows, cols], name);

/** Columns [k·H, (k+1)·H) of a [B, n·H] gate block. */
const gate = (g: Tensor, k: number, H: number) => slice(g, [0, k * H], [g.shape[0], H]);

/** Elman RNN: h' = tanh([x, h]·W + b). */
export class RNNCell extends Cell {
  readonly weight: Variable;
  readonly bias: Variable;
  constructor(inputSize: number, hiddenSize: number, o: CellOptions = {}) {
    super(inputSize, hiddenSize);
    const name = o.name ?? 'rnn';
    this.weight = weight(inputSize + hiddenSize, hiddenSize, hiddenSize, o.rng, `${name}.weight`);
    this.bias = Variable.zeros([hiddenSize], `${name}.bias`);
  }
  step(x: Tensor, state: Tensor[]): Tensor[] {
    this.check(x, state);
    return [ops.tanh(ops.add(ops.matmul(concat([x, state[0]], 1), this.weight.tensor), this.bias.tensor))];
  }
  parameters(): Variable[] { return [this.weight, this.bias]; }
}

/**
 * LSTM, PyTorch's gate order: [i, f, g, o] = [x, h]·W + b; c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c').
 * The forget gate's bias starts at 1, so the cell state is kept rather than forgotten early in training.
 */
export class LSTMCell extends Cell {
  readonly weight: Variable;
  readonly bias: Variable;
  constructor(inputSize: number, hiddenSize: number, o: CellOptions = {}) {
    super(inputSize, hiddenSize);
    const name = o.name ?? 'lstm', H = hiddenSize;
    this.weight = weight(inputSize + H, 4 * H, H, o.rng, `${name}.weight`);
    this.bias = new Variable(Float32Array.from({ length: 4 * H }, (_, j) => (j >= H && j < 2 * H ? 1 : 0)), [4 * H], `${name}.bias`);
  }
  protected override get stateCount(): number { return 2; }
  step(x: Tensor, state: Tensor[]): Tensor[] {
    this.check(x, state);
    const H = this.hiddenSize, [h, c] = state;
    const g = ops.add(ops.matmul(concat([x, h], 1), this.weight.tensor), this.bias.tensor);
    const c2 = ops.add(ops.mul(ops.sigmoid(gate(g, 1, H)), c), ops.mul(ops.sigmoid(gate(g, 0, H)), ops.tanh(gate(g, 2, H))));
    return [ops.mul(ops.sigmoid(gate(g, 3, H)), ops.tanh(c2)), c2];
  }
  parameters(): Variable[] { return [this.weight, this.bias]; }
}

/**
 * GRU, PyTorch's formulation: [r, z, n] blocks of a = x·Wx + bx and b = h·Wh + bh; r = σ(a_r + b_r),
 * z = σ(a_z + b_z), n = tanh(a_n + r·b_n), h' = (1 - z)·n + z·h, written n + z·(h - n).
 */
export class GRUCell extends Cell {
  readonly weightX: Variable;
  readonly weightH: Variable;
  readonly biasX: Variable;
  readonly biasH: Variable;
  constructor(inputSize: number, hiddenSize: number, o: CellOptions = {}) {
    super(inputSize, hiddenSize);
    const name = o.name ?? 'gru', H = hiddenSize;
    this.weightX = weight(inputSize, 3 * H, H, o.rng, `${name}.weight_x`);
    this.weightH = weight(H, 3 * H, H, o.rng, `${name}.weight_h`);
    this.biasX = Variable.zeros([3 * H], `${name}.bias_x`);
    this.biasH = Variable.zeros([3 * H], `${name}.bias_h`);
  }
  step(x: Tensor, state: Tensor[]): Tensor[] {
    this.check(x, state);
    const H = this.hiddenSize, [h] = state;
    const a = ops.add(ops.matmul(x, this.weightX.tensor), this.biasX.tensor);
    const b = ops.add(ops.matmul(h, this.weightH.tensor), this.biasH.tensor);
    const r = ops.sigmoid(ops.add(gate(a, 0, H), gate(b, 0, H)));
    const z = ops.sigmoid(ops.add(gate(a, 1, H), gate(b, 1, H)));
    const n = ops.tanh(ops.add(gate(a, 2, H), ops.mul(r, gate(b, 2, H))));
    return [ops.add(n, ops.mul(z, ops.sub(h, n)))];
  }
  parameters(): Variable[] { return [this.weightX, this.weightH, this.biasX, this.biasH]; }
}

export interface RecurrentOptions { /** Return every step's h as [B, T, H] (default), or only the last step's, [B, H]. */ returnSequences?: boolean }

/** Runs a cell over x [B, T, F] from a zero state. */
export class Recurrent extends Module {
  readonly returnSequences: boolean;
  constructor(readonly cell: Cell, o: RecurrentOptions = {}) {
    super();
    this.returnSequences = o.returnSequences ?? true;
  }
  forward(x: Tensor): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.cell.inputSize) {
      throw new ShapeError(this.constructor.name, `expected input [batch, time, ${this.cell.inputSize}], got ${fmt(x.shape)}`);
    }
    const [B, T, F] = x.shape, H = this.cell.hiddenSize;
    let state = this.cell.initialState(B);
    const hs: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      state = this.cell.step(ops.reshape(slice(x, [0, t, 0], [B, 1, F]), [B, F]), state);
      hs.push(ops.reshape(state[0], [B, 1, H]));
    }
    return this.returnSequences ? concat(hs, 1) : state[0];
  }
  override parameters(): Variable[] { return this.cell.parameters(); }
}

export class RNN extends Recurrent {
  constructor(inputSize: number, hiddenSize: number, o: CellOptions & RecurrentOptions = {}) { super(new RNNCell(inputSize, hiddenSize, o), o); }
}
export class LSTM extends Recurrent {
  constructor(inputSize: number, hiddenSize: number, o: CellOptions & RecurrentOptions = {}) { super(new LSTMCell(inputSize, hiddenSize, o), o); }
}
export class GRU extends Recurrent {
  constructor(inputSize: number, hiddenSize: number, o: CellOptions & RecurrentOptions = {}) { super(new GRUCell(inputSize, hiddenSize, o), o); }
}
