// Checkpoints: the safetensors format byte for byte, a strict reader that turns every malformed file into a clear
// error, exact resume (a run saved and resumed ends with the same values as one that never stopped) on both backends,
// a SIGKILL in the middle of a save, and `wgtrain train --save/--resume` end to end.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend, WebGpuBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import { encodeSafetensors, decodeSafetensors, SafetensorsError, SafeTensor, MAX_HEADER_BYTES } from '../src/store/safetensors.js';
import { CheckpointError, NonFiniteCheckpointError } from '../src/train/checkpoint.js';
import { saveCheckpoint, loadCheckpoint, readCheckpoint } from '../src/train/checkpoint_file.js';
import { ClassifierTrainer } from '../src/train/trainer.js';
import { Sequential, Linear, ReLU } from '../src/nn/module.js';
import { BatchNorm1d, Dropout } from '../src/nn/norm.js';
import { mlp } from '../src/nn/models.js';
import { SGD } from '../src/optim/sgd.js';
import { Adam } from '../src/optim/adaptive.js';
import type { Optimizer } from '../src/optim/optimizer.js';
import { cosine } from '../src/optim/schedules.js';
import { fit, Callback, FitOptions } from '../src/train/fit.js';
import type { Dataset } from '../src/data/dataset.js';
import { Rng } from '../src/util/rng.js';
import { randn, randInt, assertClose } from './helpers.js';
import { Tensor, input } from '../src/graph/tensor.js';
import * as ops from '../src/graph/ops.js';
import { grad } from '../src/autodiff/grad.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wgtrain-ckpt-'));

/** A safetensors file from a header given as text, with an optional forged length field. */
function file(header: string, data: number[] | Uint8Array = [], length?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('writes the exact bytes of a hand-built file, and reads it back', () => {
    const tensors = new Map<string, SafeTensor>([
      ['w', { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) }],
      ['n', { dtype: 'I32', shape: [], data: Int32Array.of(7) }],
    ]);
    const header = '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"n":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}';
    expect(header.length).toBe(132); // padded with 4 spaces to 136, a multiple of 8
    const expected = [
      136, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(header), 0x20, 0x20, 0x20, 0x20,
      0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0, // 1.5 = 0x3fc00000, -2 = 0xc0000000, little-endian
      7, 0, 0, 0,
    ];
    const bytes = encodeSafetensors(tensors, { k: 'v' });
    expect([...bytes]).toEqual(expected);
    const back = decodeSafetensors(Uint8Array.from(expected));
    expect(back.metadata).toEqual({ k: 'v' });
    expect([...back.tensors.keys()]).toEqual(['w', 'n']);
    expect(back.tensors.get('w')!.shape).toEqual([2]);
    expect([...back.tensors.get('w')!.array()]).toEqual([1.5, -2]);
    expect(back.tensors.get('n')!.dtype).toBe('I32');
    expect([...back.tensors.get('n')!.array()]).toEqual([7]);
  });

  it('round-trips every dtype it converts, empty and scalar tensors included, at unaligned offsets', () => {
    const tensors = new Map<string, SafeTensor>([
      ['bytes', { dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 255) }], // leaves the next tensor at an odd offset
      ['f32', { dtype: 'F32', shape: [2, 3], data: randn(6, 1) }],
      ['f64', { dtype: 'F64', shape: [2], data: Float64Array.of(Math.PI, -1e300) }],
      ['i64', { dtype: 'I64', shape: [], data: BigInt64Array.of(-(2n ** 40n)) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
      ['i32', { dtype: 'I32', shape: [1, 1, 2], data: Int32Array.of(-5, 2 ** 31 - 1) }],
    ]);
    const back = decodeSafetensors(encodeSafetensors(tensors)).tensors;
    for (const [name, t] of tensors) {
      const r = back.get(name)!;
      expect(r.dtype, name).toBe(t.dtype);
      expect(r.shape, name).toEqual(t.shape);
      expect(r.array(), name).toEqual(t.data);
    }
  });

  it('the writer refuses a tensor whose data does not fit its dtype and shape', () => {
    expect(() => encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]]))).toThrow(/tensor 'w' has 8 bytes, expected 12 for F32 \[3\]/);
    expect(() => encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: new Int32Array(2) }]]))).toThrow(/declared F32 but holds a Int32Array/);
  });

  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /f\.st: truncated: 0 bytes, too short for the 8-byte header length/],
    ['5 bytes', new Uint8Array(5), /truncated: 5 bytes/],
    ['absurd header length', file(ok, new Uint8Array(8), 1n << 60n), new RegExp(`header length ${1n << 60n} is larger than the ${MAX_HEADER_BYTES}-byte limit`)],
    ['header longer than the file', file(ok, [], 4000n), new RegExp(`truncated: the header claims 4000 bytes but only ${ok.length} follow`)],
    ['not UTF-8', file('{"a":1}').map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/],
    ['invalid JSON', file('{"a":{"dtype":"F32",', []), /the header is not valid JSON/],
    ['JSON but not an object', file('[1, 2]'), /the header is not a JSON object/],
    ['entry not an object', file('{"a":3}'), /tensor 'a': expected an object/],
    ['unknown dtype', file('{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8)), /tensor 'a': unknown dtype "F33"/],
    ['negative dim', file('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', new Uint8Array(8)), /tensor 'a': shape \[-2\] is not a list of non-negative integers/],
    ['fractional dim', file('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}', new Uint8Array(8)), /shape \[1.5\]/],
    ['offsets not a pair', file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', new Uint8Array(8)), /data_offsets \[0\] is not \[begin, end\]/],
    ['offsets backwards', file('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', new Uint8Array(8)), /end before they begin/],
    ['size does not match shape x dtype', file('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)), /hold 8 bytes, but F32 \[3\] needs 12/],
    ['absurd shape', file('{"a":{"dtype":"F32","shape":[1000000000,1000000000,1000000000],"data_offsets":[0,8]}}', new Uint8Array(8)), /is too large/],
    ['offsets past the end (truncated data)', file(ok, new Uint8Array(5)), /\[0, 8\] run past the end of the data \(5 bytes; file truncated\?\)/],
    ['overlapping tensors', file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', new Uint8Array(12)), /tensor 'b': data_offsets \[4, 12\] overlap the previous tensor, which ends at 8/],
    ['a gap between tensors', file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}', new Uint8Array(20)), /tensor 'b': .* leave a gap after byte 8/],
    ['bytes after the last tensor', file(ok, new Uint8Array(12)), /4 bytes after the last tensor/],
    ['unknown field', file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}', new Uint8Array(8)), /unexpected field\(s\) x/],
    ['metadata value not a string', file('{"__metadata__":{"step":3}}'), /'__metadata__' entry 'step' is 3, expected a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`rejects a malformed file: ${what}`, () => {
      let err: unknown;
      try { decodeSafetensors(bytes, 'f.st'); } catch (e) { err = e; }
      expect(err, what).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message).toMatch(/^f\.st: /);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('every truncation and every single-byte corruption of a valid file is decoded or rejected with a SafetensorsError', () => {
    const good = encodeSafetensors(new Map<string, SafeTensor>([
      ['a', { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) }], ['b', { dtype: 'I64', shape: [1], data: BigInt64Array.of(9n) }],
    ]), { note: 'x' });
    const tries: Uint8Array[] = [];
    for (let n = 0; n < good.length; n++) tries.push(good.subarray(0, n));
    // Each byte position set to a few telling values: 0, 0xff, a quote, a digit, a brace.
    for (let i = 0; i < good.length; i++) for (const v of [0, 0xff, 0x22, 0x39, 0x7b]) { const b = good.slice(); b[i] = v; tries.push(b); }
    let rejected = 0;
    for (const b of tries) {
      try {
        const r = decodeSafetensors(b, 'fuzz');
        for (const t of r.tensors.values()) t.array(); // a decoded file's tensors must also be readable
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw new Error(`a ${(e as Error).name} escaped instead of a SafetensorsError: ${(e as Error).message}`);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThanOrEqual(good.length); // at least every truncation
  });
});

// A small classifier with every kind of state: batch norm (running statistics), dropout (a step counter), momentum.
function toyModel(seed: number) {
  const rng = new Rng(seed);
  return new Sequential(
    new Linear(12, 16, { rng, name: 'fc1' }), new BatchNorm1d(16, { name: 'bn1' }), ReLU(), new Dropout(0.3, 5),
    new Linear(16, 4, { rng, name: 'fc2' }),
  );
}
const toyData: Dataset = { x: randn(70 * 12, 11), y: randInt(70, 4, 12), n: 70, featureShape: [12], numClasses: 4 };
const EPOCHS = 3, BATCH = 16; // 5 batches an epoch, the last of 6 rows: 15 steps

type MakeOpt = () => Optimizer;
function run(be: Backend, makeOpt: MakeOpt, seed: number) {
  const model = toyModel(seed);
  const trainer = new ClassifierTrainer(be, model, makeOpt(), [12]);
  trainer.schedule = cosine(0.05, EPOCHS * 5);
  const options: FitOptions = { epochs: EPOCHS, batchSize: BATCH, seed: 3 };
  return { model, trainer, options };
}

/** Every float the checkpoint holds, plus the step and dropout counter: what "the same run" means. */
async function snapshot(t: ClassifierTrainer) {
  const vars = [...t.model.parameters(), ...(t.model as Sequential).layers.flatMap((l) => (l instanceof BatchNorm1d ? l.buffers() : [])), ...t.optimizer.state()];
  const dropout = (t.model as Sequential).layers.find((l) => l instanceof Dropout) as Dropout;
  return { step: t.step, counter: dropout.counter.step, values: await Promise.all(vars.map(async (v) => [v.name, await t.backend.readVariable(v)] as const)) };
}

async function exactResume(be: Backend, makeOpt: MakeOpt, saveAt: number, tol: { atol: number; rtol: number }) {
  const path = join(tmp(), 'run.safetensors');
  // Uninterrupted, saving along the way at step `saveAt`.
  const a = run(be, makeOpt, 1);
  const saveThere: Callback = {
    onBatchEnd: async (batch, _size, ctx) => { if (a.trainer.step === saveAt) await saveCheckpoint(path, a.trainer, { epoch: ctx.epoch, batch, model: { name: 'toy' }, seed: 1 }); },
  };
  const readsA: number[][] = [], readsB: number[][] = [];
  const reads = (to: number[][]): Callback => ({ onLoss: (r) => { to.push([r.step, r.loss]); } });
  await fit(a.trainer, toyData, { ...a.options, logEvery: 2, callbacks: [saveThere, reads(readsA)] });
  const want = await snapshot(a.trainer);
  a.trainer.dispose();

  // Fresh model, different initialisation, new trainer and loader: everything must come from the file.
  const b = run(be, makeOpt, 99);
  b.trainer.prepare(BATCH);
  const { tensors } = await readCheckpoint(path);
  const fc1 = await be.readVariable(b.model.parameters()[0]);
  expect([...fc1]).not.toEqual([...tensors.get('fc1.weight')!.array()]);
  const meta = await loadCheckpoint(path, b.trainer);
  expect(meta.step).toBe(saveAt);
  expect(b.trainer.step).toBe(saveAt);
  expect(meta.epoch * 5 + meta.batch).toBe(saveAt);
  await fit(b.trainer, toyData, { ...b.options, logEvery: 2, start: meta, callbacks: [reads(readsB)] });
  // The resumed run reads the loss at the same steps, and (bit for bit where the run is exact) the same values.
  expect(readsB.map(([s]) => s)).toEqual(readsA.filter(([s]) => s > saveAt).map(([s]) => s));
  assertClose(readsB.map(([, l]) => l), readsA.filter(([s]) => s > saveAt).map(([, l]) => l), { ...tol, what: 'loss reads' });
  const got = await snapshot(b.trainer);
  b.trainer.dispose();
  expect(got.step).toBe(EPOCHS * 5);
  expect(got.counter).toBe(want.counter);
  expect(got.values.map(([n]) => n)).toEqual(want.values.map(([n]) => n));
  got.values.forEach(([name, v], i) => assertClose(v, want.values[i][1], { ...tol, what: name }));
  return { want, got };
}

describe('exact resume', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => { gpu = await WebGpuBackend.create(); });
  afterAll(() => gpu?.dispose());
  const sgd = () => new SGD({ lr: 0.05, momentum: 0.9 });

  // Same backend, same kernels, same order of operations: a resumed run is bit for bit the uninterrupted one.
  const EXACT = { atol: 0, rtol: 0 };
  it('CPU, SGD with momentum, saved mid-epoch (step 7 = epoch 1, batch 2)', async () => { await exactResume(new CpuBackend(), sgd, 7, EXACT); });
  it('CPU, saved at an epoch boundary (step 5)', async () => { await exactResume(new CpuBackend(), sgd, 5, EXACT); });
  it('WebGPU, SGD with momentum, saved mid-epoch', async () => { await exactResume(gpu, sgd, 7, EXACT); });
  // Adam's bias correction depends on the step number, which only the checkpoint's step can give back.
  const adam = () => new Adam({ lr: 0.01 });
  it('CPU, Adam, saved mid-epoch', async () => { await exactResume(new CpuBackend(), adam, 7, EXACT); });
  it('WebGPU, Adam, saved mid-epoch', async () => { await exactResume(gpu, adam, 7, EXACT); });
});

describe('checkpoint errors', () => {
  it('a checkpoint from another model or optimizer, a non-checkpoint and duplicate names each get a clear error', async () => {
    const be = new CpuBackend(), dir = tmp(), path = join(dir, 'toy.safetensors');
    const a = run(be, () => new SGD({ lr: 0.05, momentum: 0.9 }), 1);
    a.trainer.prepare(BATCH);
    await saveCheckpoint(path, a.trainer, { epoch: 0, batch: 0, model: { name: 'toy' } });

    const other = new ClassifierTrainer(be, mlp([12, 16, 16, 4], new Rng(1)), new SGD({ lr: 0.05, momentum: 0.9 }), [12]);
    other.prepare(BATCH);
    await expect(loadCheckpoint(path, other)).rejects.toThrow(/toy\.safetensors: it does not match this model: missing fc3\.weight, fc3\.bias, fc3\.weight\.momentum, fc3\.bias\.momentum; not in this model: bn1\.gamma, .*\(7 in all\) \(model in the file: \{"name":"toy"\}\)/);

    const wide = new ClassifierTrainer(be, mlp([12, 16, 5], new Rng(1)), new SGD({ lr: 0.05, momentum: 0.9 }), [12]);
    const narrow = join(dir, 'narrow.safetensors');
    wide.prepare(BATCH);
    await saveCheckpoint(narrow, wide, { epoch: 0, batch: 0, model: { name: 'mlp' } });
    const wider = new ClassifierTrainer(be, mlp([12, 16, 4], new Rng(1)), new SGD({ lr: 0.05, momentum: 0.9 }), [12]);
    wider.prepare(BATCH);
    await expect(loadCheckpoint(narrow, wider)).rejects.toThrow(/tensor 'fc2\.weight' has shape \[16,5\] in the file but \[16,4\] in this model/);

    const b = run(be, () => new SGD({ lr: 0.05, momentum: 0.5 }), 1);
    b.trainer.prepare(BATCH);
    await expect(loadCheckpoint(path, b.trainer)).rejects.toThrow(/sgd optimizer's hyper-parameters differ: momentum 0\.9 in the file, 0\.5 here/);
    const c = run(be, () => new SGD({ lr: 0.05, momentum: 0.9 }), 1);
    await expect(loadCheckpoint(path, c.trainer)).rejects.toThrow(/optimizer has no state yet.*trainer\.prepare/);

    const plain = join(dir, 'plain.safetensors');
    writeFileSync(plain, encodeSafetensors(new Map(), { format: 'pt' }));
    await expect(readCheckpoint(plain)).rejects.toThrow(/plain\.safetensors: not a wgtrain checkpoint .*format "pt"/);
    await expect(readCheckpoint(join(dir, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors: cannot read: ENOENT/);

    const twins = new ClassifierTrainer(be, new Sequential(new Linear(4, 4, { rng: new Rng(1) }), new Linear(4, 4, { rng: new Rng(2) })), new SGD({ lr: 0.1 }), [4]);
    await expect(saveCheckpoint(join(dir, 'twins.safetensors'), twins, { epoch: 0, batch: 0, model: {} })).rejects.toThrow(CheckpointError);
    await expect(saveCheckpoint(join(dir, 'twins.safetensors'), twins, { epoch: 0, batch: 0, model: {} })).rejects.toThrow(/two different variables are named 'linear4x4\.weight'/);
    expect(existsSync(join(dir, 'twins.safetensors'))).toBe(false);
  });

  it('refuses to save non-finite values and leaves the previous checkpoint as it was', async () => {
    const be = new CpuBackend(), path = join(tmp(), 'ck.safetensors');
    const a = run(be, () => new SGD({ lr: 0.05, momentum: 0.9 }), 1);
    a.trainer.prepare(BATCH);
    await saveCheckpoint(path, a.trainer, { epoch: 0, batch: 0, model: { name: 'toy' } });
    const before = readFileSync(path);
    const w = a.model.parameters()[2];
    const bad = new Float32Array(w.size); bad[3] = NaN;
    be.writeVariable(w, bad);
    const save = saveCheckpoint(path, a.trainer, { epoch: 0, batch: 1, model: { name: 'toy' } });
    await expect(save).rejects.toBeInstanceOf(NonFiniteCheckpointError);
    await expect(saveCheckpoint(path, a.trainer, { epoch: 0, batch: 1, model: { name: 'toy' } })).rejects.toThrow(/not saved: 'bn1\.gamma' holds NaN \(element 3\)/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(join(path, '..'))).toEqual(['ck.safetensors']); // no temporary file left behind
  });
});

describe('wgtrain train --save/--resume', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', 'train', ...args], { encoding: 'utf8', timeout: 300_000 });
  const ours = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('wgtrain:'));
  // 3 steps an epoch on WebGPU (lavapipe evaluates the 10,000 test images far faster than the CPU reference).
  const base = ['--backend', 'webgpu', '--model', 'mlp', '--limit', '96', '--batch-size', '32', '--schedule', 'constant'];
  let dir: string;
  beforeAll(() => { execFileSync(process.execPath, ['scripts/build.mjs']); dir = tmp(); });

  it('two epochs in one run, and one epoch then --resume for the second, write the same checkpoint byte for byte', () => {
    const a = cli([...base, '--epochs', '2', '--save', join(dir, 'a.st')]);
    expect(a.status, a.stderr).toBe(0);
    const b1 = cli([...base, '--epochs', '1', '--save', join(dir, 'b.st'), '--save-every', '2']);
    expect(b1.status, b1.stderr).toBe(0);
    writeFileSync(join(dir, 'epoch1.st'), readFileSync(join(dir, 'b.st')));
    const b2 = cli([...base, '--epochs', '2', '--resume', join(dir, 'b.st'), '--save', join(dir, 'b.st')]);
    expect(b2.status, b2.stderr).toBe(0);
    expect(b2.stdout).toMatch(/resumed from .*b\.st \(after epoch 1, step 3\)/);
    expect(b2.stdout).toMatch(/epoch 2\/2/);
    expect(b2.stdout).not.toMatch(/epoch 1\/2/); // only the remaining epoch ran
    expect(readFileSync(join(dir, 'b.st')).equals(readFileSync(join(dir, 'a.st')))).toBe(true);
  });

  it('records the GEMM and conv choices a tuned run trained with, and a resumed run reuses them whatever the cache says', async () => {
    const tuned = (cache: string, args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', 'train', ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, WGTRAIN_AUTOTUNE: '1', WGTRAIN_CACHE_DIR: cache } });
    const c1 = tmp(), c2 = tmp();
    const a = tuned(c1, [...base, '--epochs', '2', '--save', join(dir, 'ta.st')]);
    expect(a.status, a.stderr).toBe(0);
    const b1 = tuned(c1, [...base, '--epochs', '1', '--save', join(dir, 'tb.st')]);
    expect(b1.status, b1.stderr).toBe(0);
    const recorded = (await readCheckpoint(join(dir, 'tb.st'))).meta.schedule?.kernels as Record<string, string>;
    expect(Object.keys(recorded).some((k) => k.startsWith('gemm'))).toBe(true);
    // Another machine's cache (or this one's, measured again): every class a different winner.
    const other = (c: string) => (c === 'subgroup 16x32' ? 'subgroup 32x64' : 'subgroup 16x32');
    const file = JSON.parse(readFileSync(join(c1, 'autotune.json'), 'utf8'));
    for (const entries of Object.values(file.adapters) as Record<string, { winner: string }>[]) for (const e of Object.values(entries)) e.winner = other(e.winner);
    writeFileSync(join(c2, 'autotune.json'), JSON.stringify(file));
    const b2 = tuned(c2, [...base, '--epochs', '2', '--resume', join(dir, 'tb.st'), '--save', join(dir, 'tb.st')]);
    expect(b2.status, b2.stderr).toBe(0);
    expect((await readCheckpoint(join(dir, 'tb.st'))).meta.schedule?.kernels).toEqual(recorded);
    expect(readFileSync(join(dir, 'tb.st')).equals(readFileSync(join(dir, 'ta.st')))).toBe(true);
    // Without the record, that cache's choices are what a run compiles.
    const fresh = tuned(c2, [...base, '--epochs', '1', '--save', join(dir, 'tc.st')]);
    expect(fresh.status, fresh.stderr).toBe(0);
    const theirs = (await readCheckpoint(join(dir, 'tc.st'))).meta.schedule?.kernels as Record<string, string>;
    const cached = new Set((Object.values(file.adapters) as Record<string, unknown>[]).flatMap((e) => Object.keys(e)));
    expect(cached.size).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(recorded)) if (cached.has(k)) expect(theirs[k], k).toBe(other(v)); // the rest were never measured (evaluation graphs)
  });

  it('refuses to resume with other flags, and a corrupt file, in one line with exit code 2', () => {
    writeFileSync(join(dir, 'junk.st'), 'not a checkpoint');
    const cases: [string[], RegExp][] = [
      [[...base, '--resume', join(dir, 'epoch1.st'), '--batch-size', '16', '--seed', '4'], /--resume .*epoch1\.st: the flags differ from the saved run's: --batch-size 32 in the checkpoint but 16 here, --seed 1 in the checkpoint but 4 here/],
      [[...base, '--resume', join(dir, 'junk.st')], /junk\.st: header length \d+ is larger than the 104857600-byte limit/],
      [[...base, '--save-every', '2'], /--save-every needs --save FILE/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(2);
      expect(ours(r.stderr)).toHaveLength(1);
      expect(ours(r.stderr)[0]).toMatch(message);
    }
  });

  it('a diverged run leaves the last good checkpoint intact and names it', () => {
    const ck = join(dir, 'nan.st');
    writeFileSync(ck, readFileSync(join(dir, 'epoch1.st')));
    const r = cli([...base, '--epochs', '1', '--lr', '1e30', '--save', ck]);
    expect(r.status, r.stdout).toBe(1);
    expect(ours(r.stderr)).toHaveLength(1);
    // The loss is read at the end of this 3-step epoch, with the gradient guard's latch, before the epoch's save: the
    // guard names the step whose gradients went bad, and nothing is saved.
    expect(ours(r.stderr)[0]).toMatch(/training stopped: a gradient became non-finite \(NaN or infinity\) at step 2; .*the last good checkpoint is .*nan\.st \(after epoch 1, step 3, from an earlier run\)/);
    expect(readFileSync(ck).equals(readFileSync(join(dir, 'epoch1.st')))).toBe(true);
  });

  it('SIGKILL in the middle of a save leaves the previous checkpoint whole and loadable', async () => {
    const ck = join(dir, 'crash.st');
    writeFileSync(ck, readFileSync(join(dir, 'epoch1.st')));
    const child = spawn(process.execPath, ['bin/wgtrain.js', 'train', ...base, '--backend', 'cpu', '--limit', '32', '--seed', '9', '--save', ck], {
      env: { ...process.env, WGTRAIN_TEST_PAUSE_SAVE: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d) => { err += d; if (err.includes('WGTRAIN_TEST_PAUSE_SAVE: paused')) resolve(); });
      child.on('exit', () => reject(new Error(`the child exited before pausing mid-save: ${err}`)));
    });
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');
    const half = readdirSync(dir).filter((f) => f.startsWith('.crash.st.') && f.endsWith('.tmp'));
    expect(half).toHaveLength(1); // the half-written temporary file the kill interrupted
    expect(readFileSync(join(dir, half[0])).length).toBeLessThan(readFileSync(ck).length);
    expect(readFileSync(ck).equals(readFileSync(join(dir, 'epoch1.st')))).toBe(true);
    const { meta, tensors } = await readCheckpoint(ck);
    expect(meta.step).toBe(3);
    const t = new ClassifierTrainer(new CpuBackend(), mlp([784, 256, 128, 10], new Rng(9)), new SGD({ lr: 0.03, momentum: 0.9 }), [1, 28, 28]);
    t.prepare(32);
    await loadCheckpoint(ck, t);
    expect([...(await t.backend.readVariable(t.model.parameters()[0]))]).toEqual([...tensors.get('fc1.weight')!.array()]);
  });
});

// test/fixtures/sgd_nesterov_v1.safetensors was written by the code at 593dd45, when SGD had its own `sgd_momentum`
// op: a 3-4-2 MLP after 3 steps of SGD (lr 0.1, momentum 0.9, Nesterov, weight decay 0.01) on the CPU. A checkpoint
// from before SGD became a rule of the fused optimizer step must still load, and training must go on from it.
describe('a checkpoint written by an earlier wgtrain', () => {
  it('loads into today\'s SGD, and the next step is PyTorch\'s update from the loaded velocity', async () => {
    const path = join(__dirname, 'fixtures', 'sgd_nesterov_v1.safetensors');
    const rng = new Rng(99); // other initial values than the file's: everything must come from the file
    const model = new Sequential(new Linear(3, 4, { rng, name: 'fc1' }), ReLU(), new Linear(4, 2, { rng, name: 'fc2' }));
    const optimizer = new SGD({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    const backend = new CpuBackend();
    const x = input([5, 3]), y = input([5], 'i32');
    const loss = ops.softmaxCrossEntropy(model.forward(x), y);
    const params = model.parameters(), grads = grad(loss, params.map((p) => p.tensor));
    const step = backend.compile([loss], optimizer.updates(params, grads));
    const trainable = { backend, model, optimizer, step: 0 };
    const meta = await loadCheckpoint(path, trainable);
    expect(meta.step).toBe(3);
    const { tensors } = await readCheckpoint(path);
    expect(optimizer.state().map((v) => v.name)).toEqual(['fc1.weight.momentum', 'fc1.bias.momentum', 'fc2.weight.momentum', 'fc2.bias.momentum']);
    for (const v of [...params, ...optimizer.state()]) expect(Array.from(await backend.readVariable(v)), v.name).toEqual(Array.from(tensors.get(v.name)!.array() as Float32Array));

    const feeds = new Map<Tensor, Float32Array | Int32Array>([[x, Float32Array.from({ length: 15 }, (_, i) => Math.cos(i))], [y, Int32Array.from([1, 0, 1, 1, 0])]]);
    const gx = backend.compile(grads);
    gx.run(feeds);
    const g = await Promise.all(grads.map((t) => gx.read(t)));
    step.run(feeds);
    for (const [i, p] of params.entries()) {
      const p0 = tensors.get(p.name)!.array() as Float32Array, v0 = tensors.get(`${p.name}.momentum`)!.array() as Float32Array;
      const want = Array.from(p0, (pk, k) => { const gk = g[i][k] + 0.01 * pk, vk = 0.9 * v0[k] + gk; return pk - 0.1 * (gk + 0.9 * vk); });
      assertClose(await backend.readVariable(p), want, { atol: 1e-7, rtol: 1e-6, what: `${p.name} after one more step` });
    }
  });
});
