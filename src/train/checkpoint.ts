// Checkpoints of a training run, as safetensors bytes (files on disk: checkpoint_file.ts, Node only): every value a resumed run needs to continue exactly as if it had never
// stopped. Tensors: the model's parameters and module buffers (batch-norm running statistics) under their variable
// names, the optimizer's state (optimizer.state()) under its names, and each Dropout module's step counter as an I64
// scalar `dropout<k>.step` (k counts Dropout modules in tree order). __metadata__: format and version, then each
// field of CheckpointMeta as JSON (the trainer's step, the data position, model, optimizer config, seed, schedule).
import { MAX_CONFIG_DEPTH, jsonDepth, jsonTextDepth } from '../nn/budget.js';
import type { Backend } from '../backends/backend.js';
import type { Variable } from '../graph/tensor.js';
import { fmt } from '../graph/shape.js';
import type { Module } from '../nn/module.js';
import { Dropout } from '../nn/norm.js';
import type { Optimizer } from '../optim/optimizer.js';
import { encodeSafetensors, decodeSafetensors, SafeTensor, ReadTensor } from '../store/safetensors.js';
import { namedVariables } from '../nn/state.js';
import { UserError } from '../util/errors.js';

export const CHECKPOINT_FORMAT = 'wgtrain-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** What a checkpoint saves from and loads into; ClassifierTrainer is one. */
export interface Trainable {
  readonly backend: Backend; readonly model: Module; readonly optimizer: Optimizer; step: number;
  /** Further variables the run needs to continue exactly (a mixed-precision run's loss scale), saved under their names. */
  runState?(): Variable[];
}

/** Where the run is: `batch` batches of `epoch` are done (so a run saved at an epoch's end says epoch + 1, batch 0). */
export interface RunPosition { epoch: number; batch: number }

export interface CheckpointMeta extends RunPosition {
  /** Steps taken so far: schedules, dropout masks and bias corrections depend on it. */
  step: number;
  /** The model's name and configuration, as the caller describes it. */
  model: Record<string, unknown>;
  /** optimizer.config() when saved. */
  optimizer: { kind: string } & Record<string, unknown>;
  /** The learning rate the last step used. */
  lr: number;
  seed?: number;
  /** Schedule name, parameters and any state (plateau), as the caller describes it. */
  schedule?: Record<string, unknown>;
  /** Anything else the caller wants to check on resume (batch size, dataset size). */
  run?: Record<string, unknown>;
}

export class CheckpointError extends UserError {
  constructor(readonly file: string, detail: string) {
    super(`checkpoint ${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

/** A save refused because a value is NaN or infinite: the run diverged, and the file keeps its last good contents. */
export class NonFiniteCheckpointError extends CheckpointError {
  /** A run that diverged failed, like NonFiniteLossError: the CLI exits 1, not 2 (nothing the user passed was malformed). */
  override readonly exitCode = 1;
  constructor(file: string, detail: string) {
    super(file, detail);
    this.name = 'NonFiniteCheckpointError';
  }
}

const FIELDS = ['step', 'epoch', 'batch', 'model', 'optimizer', 'lr', 'seed', 'schedule', 'run'] as const;

// JSON has no Infinity or NaN (a plateau's best loss starts at Infinity): spell them as strings both ways.
const NON_FINITE = new Set(['Infinity', '-Infinity', 'NaN']);
const encode = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
const decode = (s: string): unknown => JSON.parse(s, (_k, x) => (typeof x === 'string' && NON_FINITE.has(x) ? Number(x) : x));

interface Slots { floats: Map<string, Variable>; counters: Map<string, Dropout> }

/** Every value the checkpoint holds, by tensor name; throws if two different variables share a name. */
function collect(t: Trainable, file: string): Slots {
  const floats = namedVariables(t.model, (detail) => new CheckpointError(file, detail));
  const counters = new Map<string, Dropout>();
  const walk = (m: Module, seen: Set<Module>) => {
    if (seen.has(m)) return;
    seen.add(m);
    if (m instanceof Dropout) counters.set(`dropout${counters.size}.step`, m);
    m.children().forEach((c) => walk(c, seen));
  };
  walk(t.model, new Set());
  for (const s of t.optimizer.state()) {
    const prev = floats.get(s.name);
    if (prev && prev !== s) throw new CheckpointError(file, `two different variables are named '${s.name}' (a model variable and optimizer state (${t.optimizer.config().kind})); give the modules distinct names (e.g. the name option of Linear, Conv2d, BatchNorm)`);
    floats.set(s.name, s);
  }
  for (const s of t.runState?.() ?? []) floats.set(s.name, s);
  return { floats, counters };
}

/**
 * Read every value back from the backend and encode the checkpoint as safetensors bytes (a page can download or
 * store them; saveCheckpoint in wgtrain/node writes them to a file atomically). Refuses (NonFiniteCheckpointError)
 * if any value is not finite, so a run that diverged never replaces its last good checkpoint. `file` names the
 * destination in errors.
 */
export async function encodeCheckpoint(
  t: Trainable, info: CheckpointInfo, file = 'checkpoint',
): Promise<{ bytes: Uint8Array; meta: CheckpointMeta }> {
  const { floats, counters } = collect(t, file);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, v] of floats) {
    const data = await t.backend.readVariable(v);
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new NonFiniteCheckpointError(file, `not saved: '${name}' holds ${data[bad]} (element ${bad}) at step ${t.step}: the run has diverged, and the file keeps its previous contents`);
    tensors.set(name, { dtype: 'F32', shape: [...v.shape], data });
  }
  for (const [name, d] of counters) tensors.set(name, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(d.counter.step)) });
  const meta: CheckpointMeta = { ...info, step: t.step, optimizer: t.optimizer.config(), lr: t.optimizer.lr };
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT, version: String(CHECKPOINT_VERSION) };
  for (const k of FIELDS) if (meta[k] !== undefined) metadata[k] = encode(meta[k]);
  return { bytes: encodeSafetensors(tensors, metadata), meta };
}

/** What a caller says about the run when saving: where it is, and the model (and optionally seed, schedule, run). */
export type CheckpointInfo = RunPosition & Pick<CheckpointMeta, 'model'> & Partial<Pick<CheckpointMeta, 'seed' | 'schedule' | 'run'>>;

/** A checkpoint as read: its metadata and its tensors by name. */
export interface DecodedCheckpoint { meta: CheckpointMeta; tensors: Map<string, ReadTensor> }

/** Parse and validate a checkpoint's bytes and metadata without touching any model; `path` names them in errors. */
export function decodeCheckpoint(bytes: Uint8Array, path = 'checkpoint'): DecodedCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes, path);
  const fail = (detail: string): never => { throw new CheckpointError(path, detail); };
  if (metadata.format !== CHECKPOINT_FORMAT) fail(`not a wgtrain checkpoint (its __metadata__ has format ${JSON.stringify(metadata.format)}, expected "${CHECKPOINT_FORMAT}")`);
  if (metadata.version !== String(CHECKPOINT_VERSION)) fail(`format version ${metadata.version}, but this wgtrain reads version ${CHECKPOINT_VERSION}`);
  const meta: Record<string, unknown> = {};
  for (const k of FIELDS) {
    if (metadata[k] === undefined) continue;
    if (jsonTextDepth(metadata[k], MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH) fail(`metadata field '${k}' is nested more than ${MAX_CONFIG_DEPTH} levels deep`);
    try { meta[k] = decode(metadata[k]); } catch { fail(`metadata field '${k}' is not valid JSON: ${metadata[k].slice(0, 80)}`); }
    // Bounded like a model file: every later walk over it (comparing flags, building the model) recurses.
    if (jsonDepth(meta[k], MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH) fail(`metadata field '${k}' is nested more than ${MAX_CONFIG_DEPTH} levels deep`);
  }
  for (const k of ['step', 'epoch', 'batch'] as const) {
    if (!(Number.isSafeInteger(meta[k]) && (meta[k] as number) >= 0)) fail(`metadata field '${k}' is ${JSON.stringify(meta[k])}, expected an integer >= 0`);
  }
  const opt = meta.optimizer as { kind?: unknown } | undefined;
  if (typeof opt !== 'object' || opt === null || typeof opt.kind !== 'string') fail(`metadata field 'optimizer' is missing or has no kind`);
  if (typeof meta.model !== 'object' || meta.model === null) fail(`metadata field 'model' is missing`);
  return { meta: meta as unknown as CheckpointMeta, tensors };
}

/**
 * Put a checkpoint into a live run: the values go to the backend (writeVariable), the step to `t.step`, the dropout
 * counters to their modules. Everything is checked first (names, shapes, dtypes, optimizer kind and
 * hyper-parameters other than lr, which schedules move), so a mismatch changes nothing. The optimizer must have
 * created its state already: compile the training step first (ClassifierTrainer.prepare(batchSize)).
 */
export function restoreCheckpoint(bytes: Uint8Array | DecodedCheckpoint, t: Trainable, path = 'checkpoint'): CheckpointMeta {
  const { meta, tensors } = bytes instanceof Uint8Array ? decodeCheckpoint(bytes, path) : bytes;
  const fail = (detail: string): never => { throw new CheckpointError(path, detail); };
  const mine = t.optimizer.config();
  if (meta.optimizer.kind !== mine.kind) fail(`it was saved with optimizer ${meta.optimizer.kind}, but this run uses ${mine.kind}`);
  const differ = [...new Set([...Object.keys(mine), ...Object.keys(meta.optimizer)])]
    .filter((k) => k !== 'lr' && encode(mine[k]) !== encode(meta.optimizer[k]))
    .map((k) => `${k} ${encode(meta.optimizer[k])} in the file, ${encode(mine[k])} here`);
  if (differ.length) fail(`the ${mine.kind} optimizer's hyper-parameters differ: ${differ.join('; ')}`);

  const { floats, counters } = collect(t, path);
  if (t.optimizer.state().length === 0 && [...tensors.keys()].some((k) => !floats.has(k) && !counters.has(k))) {
    fail(`the optimizer has no state yet to load into: compile the training step first (trainer.prepare(batchSize))`);
  }
  // Optimizer state a file may predate (the StepClock of a run whose steps may be skipped) is rebuilt from its step.
  const rebuilt = new Map<string, Float32Array>();
  for (const k of floats.keys()) {
    const v = tensors.has(k) ? undefined : t.optimizer.stateAt?.(k, meta.step);
    if (v) rebuilt.set(k, v);
  }
  const missing = [...floats.keys(), ...counters.keys()].filter((k) => !tensors.has(k) && !rebuilt.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !floats.has(k) && !counters.has(k));
  if (missing.length || unexpected.length) {
    const list = (a: string[]) => a.slice(0, 5).join(', ') + (a.length > 5 ? `, ... (${a.length} in all)` : '');
    fail(`it does not match this model: ${[missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `not in this model: ${list(unexpected)}` : ''].filter(Boolean).join('; ')} (model in the file: ${encode(meta.model)})`);
  }
  const values = new Map<Variable, Float32Array>();
  for (const [name, v] of floats) {
    if (rebuilt.has(name)) { values.set(v, rebuilt.get(name)!); continue; }
    const r = tensors.get(name)!;
    if (r.dtype !== 'F32') fail(`tensor '${name}' is ${r.dtype}, expected F32`);
    if (fmt(r.shape) !== fmt(v.shape)) fail(`tensor '${name}' has shape ${fmt(r.shape)} in the file but ${fmt(v.shape)} in this model`);
    values.set(v, r.array() as Float32Array);
  }
  const steps = new Map<Dropout, number>();
  for (const [name, d] of counters) {
    const r = tensors.get(name)!;
    if (r.dtype !== 'I64' || r.shape.length !== 0) fail(`tensor '${name}' is ${r.dtype} ${fmt(r.shape)}, expected an I64 scalar`);
    steps.set(d, Number((r.array() as BigInt64Array)[0]));
  }
  for (const [v, data] of values) t.backend.writeVariable(v, data);
  for (const [d, s] of steps) d.counter.step = s;
  t.step = meta.step;
  t.optimizer.lr = meta.lr;
  return meta;
}
