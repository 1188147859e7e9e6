// Fuzzing against the reference: random small graphs (src/check/fuzz.ts), forward and backward, WebGPU against the
// CPU reference: y and every gradient within |gpu - cpu| <= atol + rtol·|cpu| + 16·noise, atol = 1e-6 +
// 1e-6·sqrt(K)·max|cpu|, rtol = 1e-4 (checkParity's rule, K the longest reduction behind the output), noise the
// reference's own spread when its inputs are nudged by a few ulps (see FUZZ_NOISE_FACTOR in src/check/fuzz.ts).
// A failure names the seed, the graph and the command that reproduces it. FUZZ_CASES and FUZZ_SEED widen a run.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { WebGpuBackend, CpuBackend } from '../src/backends/index.js';
import { fuzzCase, runFuzzCase, FUZZ_OPS, reproCommand } from '../src/check/fuzz.js';
import { OP_FACTS, OpName, factsOf } from '../src/graph/op_table.js';
import { topoSort } from '../src/graph/topo.js';

const CASES = Number(process.env.FUZZ_CASES ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 1);

let gpu: WebGpuBackend;
beforeAll(async () => { gpu = await WebGpuBackend.create(); });
afterAll(() => gpu?.dispose());

describe('fuzz: random graphs, WebGPU vs the CPU reference', () => {
  it('a seed always builds the same graph with the same values', () => {
    for (const seed of [3, 77]) {
      const a = fuzzCase(seed), b = fuzzCase(seed);
      expect(a.description).toBe(b.description);
      expect([...a.feeds.values()].map((v) => Array.from(v))).toEqual([...b.feeds.values()].map((v) => Array.from(v)));
    }
    expect(fuzzCase(3).description).not.toBe(fuzzCase(4).description);
    expect(reproCommand(12)).toBe('npx wgtrain fuzz --seed 12 --cases 1');
  });

  it('catches a kernel that is 0.1% off, naming the seed and the command that reproduces it', async () => {
    // The first graph that ends in tanh over 16 values or more, with no relu before it: nothing after tanh (a softmax
    // over one class, say) hides the fault, and its inputs are not all zeros (tanh(0) scaled is still 0).
    const seed = [...Array(300).keys()].find((s) => { const c = fuzzCase(s); return c.ops.at(-1) === 'tanh' && c.y.size >= 16 && !c.ops.includes('relu'); })!;
    // The fault lives in one backend instance; the reference table and every other backend are untouched.
    const faulty = new CpuBackend({ kernels: (op, k) => (op !== 'tanh' ? k : (n, ins, out) => { k(n, ins, out); for (let i = 0; i < out.length; i++) out[i] *= 1.001; }) });
    const r = await runFuzzCase(seed, gpu, faulty);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(new RegExp(`^fuzz seed ${seed}: .* differs between .* and the CPU reference`));
    expect(r.message).toContain('tanh');
    expect(r.message).toContain(`reproduce: npx wgtrain fuzz --seed ${seed} --cases 1`);
    expect((await runFuzzCase(seed, gpu)).ok).toBe(true);
  });

  it(`${CASES} cases from seed ${SEED} agree, and together they draw every op`, async () => {
    const cpu = new CpuBackend();
    const drawn = new Set<string>();
    const failures: string[] = [];
    let outputs = 0;
    const graphOps = new Set<string>();
    for (let s = SEED; s < SEED + CASES; s++) {
      const r = await runFuzzCase(s, gpu, cpu);
      r.ops.forEach((o) => drawn.add(o));
      for (const n of topoSort(fuzzCase(s).outputs)) graphOps.add(n.op);
      outputs += r.outputs;
      if (!r.ok) failures.push(r.message!);
    }
    if (process.env.FUZZ_STATS) console.log(`${CASES} cases, ${outputs} outputs compared, ${failures.length} failed`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(FUZZ_OPS.filter((o) => !drawn.has(o))).toEqual([]);
    // Every op the op table says is fuzzed (OpFacts.fuzz) appears in some case's graph, forward or backward.
    expect((Object.keys(OP_FACTS) as OpName[]).filter((op) => factsOf({ op }).fuzz === true && !graphOps.has(op))).toEqual([]);
  });
});
