// Shader contracts (src/backends/webgpu/contracts.ts): the elementwise codes and uniform layouts that the TypeScript
// side and the WGSL side share by name, generated into the shaders rather than repeated in them as numbers.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { UNARY, BINARY } from '../src/graph/elementwise.js';
import { opCodesWgsl, WordLayout, ELEMENTWISE_PARAMS } from '../src/backends/webgpu/contracts.js';
import { shaderSource } from '../src/backends/webgpu/shaders.js';

const wgsl = (name: string) => readFileSync(new URL(`../shaders/${name}.wgsl`, import.meta.url), 'utf8');
const upper = (s: string) => s.toUpperCase();

describe('shader contracts', () => {
  it('every elementwise function has a case by name in its shader, and no case is a bare number', () => {
    const unary = wgsl('unary'), binary = wgsl('elementwise');
    expect(Object.keys(UNARY).filter((op) => !unary.includes(`case UNARY_${upper(op)}:`))).toEqual([]);
    expect(Object.keys(BINARY).filter((op) => !binary.includes(`case BINARY_${upper(op)}:`))).toEqual([]);
    expect(unary + binary).not.toMatch(/case \d+u/);
    expect(opCodesWgsl()).toContain(`const UNARY_GELU: u32 = ${UNARY.gelu.code}u;`);
    expect(opCodesWgsl()).toContain(`const BINARY_PRELU_SLOPE_GRAD: u32 = ${BINARY.prelu_slope_grad.code}u;`);
  });

  it('a word layout packs each field at the offset its generated WGSL constant names', () => {
    const l = new WordLayout('T', { n: 1, shape: 3, tailWord: 1 });
    expect(l.wgsl()).toContain('const T_N: u32 = 0u;');
    expect(l.wgsl()).toContain('const T_SHAPE: u32 = 1u;');
    expect(l.wgsl()).toContain('const T_TAIL_WORD: u32 = 4u;');
    expect(l.wgsl()).toContain('array<vec4<u32>, 2>');
    expect(Array.from(new Uint32Array(l.pack({ n: 7, shape: [2, 5], tailWord: 9 })))).toEqual([7, 2, 5, 0, 9, 0, 0, 0]);
    expect(() => l.pack({ n: 1, shape: [1, 2, 3, 4], tailWord: 0 })).toThrow(/field shape holds 3 words, got 4/);
    // The elementwise shader reads its uniform only through the generated names.
    const src = shaderSource('elementwise', { BINARY: true, STRIDED: true, ROWS: false, SUM: true, SUM_ROWS: false, VEC4: false, VEC4_A: false, VEC4_B: false });
    expect(src).toContain(`const EW_CONSTS: u32 = ${ELEMENTWISE_PARAMS.offsets.consts}u;`);
    expect(src).not.toMatch(/\bm\(\d+u/);
  });

  it('no shader declares its uniform by hand or reads it by position: every layout comes from contracts.ts', () => {
    for (const f of readdirSync(new URL('../shaders/', import.meta.url))) {
      const src = readFileSync(new URL(`../shaders/${f}`, import.meta.url), 'utf8');
      // A uniform's struct comes from an #include generated from contracts.ts; other structs (a kernel's own
      // function-local values, as in conv_gemm.wgsl) are no layout contract.
      for (const [, type] of src.matchAll(/var<uniform>\s*\w+\s*:\s*(\w+)/g)) expect(src, `${f}: uniform type ${type}`).not.toMatch(new RegExp(`^struct ${type}\\b`, 'm'));
      expect(src, f).not.toMatch(/var<uniform>[^;]*array/);
      expect(src, f).not.toMatch(/\bm\(\d+u/);
    }
    const copy = shaderSource('strided_copy', { IN2: true, IN3: false, IN4: false, IN5: false, IN6: false, IN7: false });
    expect(copy).toContain('const SC_SOURCE_WORDS: u32 = 12u;');
  });
});
