// The source's layering, checked: every relative import in src/ and bench/ (type-only ones included: a cycle of types
// is still a cycle a reader has to untangle) goes to a lower layer or stays within its own, and no files import each
// other in a cycle. The layer order, lowest first:
//
//   util                      helpers with no engine knowledge (RNG, SVG plots, the UserError base class)
//   store                     safetensors, atomic writes (their errors are UserErrors)
//   graph                     tensors, op table, builders, shapes, topological order
//   autodiff                  gradient rules
//   schedule                  fusion and planning
//   backends/backend.ts       the backend contract
//   backends/cpu | webgpu     the two backends: siblings, neither imports the other
//   backends/index.ts         createBackend
//   check                     parity checker, fuzzer
//   nn | optim | data         modules, optimizers, datasets: siblings
//   train                     trainer, fit, checkpoints
//   bench                     benchmarks (the CLI runs them; they never import the CLI)
//   cli                       the wgtrain command
//   index.ts                  the package's public surface (browser-safe)
//   node.ts                   the public surface plus file I/O (wgtrain/node)
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, normalize, relative } from 'node:path';

const ROOT = join(__dirname, '..');

/** Layers, lowest first; layers in the same inner array share a rank and must not import each other. */
const LAYERS: [name: string, test: RegExp][][] = [
  [['util', /^src\/util\//]],
  [['store', /^src\/store\//]],
  [['graph', /^src\/graph\//]],
  [['autodiff', /^src\/autodiff\//]],
  [['schedule', /^src\/schedule\//]],
  [['backend contract', /^src\/backends\/backend\.ts$/]],
  [['backends/cpu', /^src\/backends\/cpu\//], ['backends/webgpu', /^src\/backends\/webgpu\//]],
  [['backends', /^src\/backends\/index\.ts$/]],
  [['check', /^src\/check\//]],
  [['nn', /^src\/nn\//], ['optim', /^src\/optim\//], ['data', /^src\/data\//]],
  [['train', /^src\/train\//]],
  [['bench', /^bench\//]],
  [['cli', /^src\/cli\//]],
  [['index', /^src\/index\.ts$/]],
  [['node entry', /^src\/node\.ts$/]],
];

function layerOf(file: string): { name: string; rank: number } {
  for (let rank = 0; rank < LAYERS.length; rank++) for (const [name, re] of LAYERS[rank]) if (re.test(file)) return { name, rank };
  throw new Error(`${file} is in no layer: add it to LAYERS in test/layers.test.ts`);
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(join(ROOT, p)).isDirectory()) return f === 'results' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of `file` (static, dynamic and `import('...')` types), as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s+'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? m[3]);
  return specs.filter((s) => s.startsWith('.') && !s.endsWith('.wgsl'))
    .map((s) => normalize(join(dirname(file), s)).replace(/\.js$/, '.ts'));
}

const files = [...sources('src'), ...sources('bench')];
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('layers', () => {
  it('the import parser sees the imports this file knows are there', () => {
    expect(graph.get('src/graph/ops.ts')).toEqual(expect.arrayContaining(['src/graph/tensor.ts', 'src/graph/shape.ts']));
    expect(graph.get('src/cli/bench.ts')).toContain('bench/gemm.ts');
    expect(graph.get('src/autodiff/conv_grad.ts')).toContain('src/autodiff/rule.ts'); // a type-only import
    for (const deps of graph.values()) for (const d of deps) expect(files, `imported: ${d}`).toContain(d);
  });

  it('no file imports from a higher layer or a sibling of its own rank', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      const from = layerOf(file);
      for (const d of deps) {
        const to = layerOf(d);
        if (to.rank > from.rank || (to.rank === from.rank && to.name !== from.name)) bad.push(`${file} (${from.name}) imports ${d} (${to.name})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map((p) => relative('.', p)).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
