// The benchmark results page: reads the dated JSON files in bench/results/ (written by `wgtrain bench ... --json`),
// draws one SVG chart per benchmark and writes bench/results/README.md with the tables and the charts.
// Files are named YYYY-MM-DD-<benchmark>[-<detail>]-<adapter>.json; the latest file of each kind is charted.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { plotSvg, Series } from '../src/util/plot_svg.js';
import type { GemmRow } from './gemm.js';
import type { TrainBench } from './train.js';
import { parseConvShape, convFlops } from './conv.js';
import { parseXentSize } from './softmax_xent.js';
import { UsageError } from '../src/util/usage_error.js';

interface ResultFile { file: string; date: string; kind: string; rows: unknown[] }

const NAME = /^(\d{4}-\d{2}-\d{2})-(.+)\.json$/;

export async function readResults(dir: string): Promise<ResultFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new UsageError(`bench report: cannot read the folder '${dir}' (expected the benchmark results folder, e.g. bench/results)`);
  }
  const files = names.filter((f) => NAME.test(f)).sort();
  const out: ResultFile[] = [];
  for (const file of files) {
    const [, date, kind] = NAME.exec(file)!;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch (e) {
      throw new UsageError(`bench report: ${join(dir, file)} is not valid JSON (${(e as Error).message})`);
    }
    out.push({ file, date, kind, rows: Array.isArray(parsed) ? parsed : [parsed] });
  }
  return out;
}

const isGemm = (r: unknown): r is GemmRow => typeof r === 'object' && r !== null && 'gflops' in r && 'n' in r && 'impl' in r;
const isTrain = (r: unknown): r is TrainBench => typeof r === 'object' && r !== null && 'samplesPerSec' in r && 'backend' in r;
/** Rows of `bench conv` (with a pass) and `bench softmax-xent`: one figure per (shape, impl). */
interface ShapeRow { shape: string; pass?: string; impl: string; gflops?: number; gbps?: number }
const isShapeRow = (metric: 'gflops' | 'gbps', pass: boolean) => (r: unknown): r is ShapeRow =>
  typeof r === 'object' && r !== null && 'shape' in r && 'impl' in r && ('pass' in r) === pass && (metric in r || 'note' in r);
const isConv = isShapeRow('gflops', true), isXent = isShapeRow('gbps', false);

/** x of a shape for the chart, NaN (left out) when it does not parse. */
const sizeOf = (f: (shape: string) => number) => (shape: string) => { try { return f(shape); } catch { return NaN; } };

function shapeSection(f: ResultFile, dir: string, o: { title: string; about: string; metric: 'gflops' | 'gbps'; unit: string; xLabel: string; x: (shape: string) => number }) {
  const rows = f.rows as ShapeRow[];
  const impls = [...new Set(rows.map((r) => r.impl))];
  const passes = [...new Set(rows.map((r) => r.pass))];
  const keys = [...new Map(rows.map((r) => [`${r.shape} ${r.pass ?? ''}`, r])).values()];
  const value = (r: ShapeRow | undefined) => r?.[o.metric];
  const svgName = f.file.replace(/\.json$/, '.svg');
  const svg = plotSvg(passes.map((pass) => ({
    title: `${o.title}${pass ? `, ${pass}` : ''} (${f.date})`, xLabel: o.xLabel, yLabel: o.unit, logX: true, yInclude: [0],
    series: impls.map((impl) => {
      const rs = rows.filter((r) => r.impl === impl && r.pass === pass && value(r) !== undefined && o.x(r.shape) > 0).sort((a, b) => o.x(a.shape) - o.x(b.shape));
      return { name: impl, x: rs.map((r) => o.x(r.shape)), y: rs.map((r) => value(r)!) };
    }).filter((s) => s.x.length),
  })));
  const head = `| shape |${passes[0] ? ' pass |' : ''} ${impls.join(' | ')} |\n|---|${passes[0] ? '---|' : ''}${impls.map(() => '---|').join('')}`;
  const body = keys.map((k) => `| ${k.shape} |${k.pass ? ` ${k.pass} |` : ''} ${impls.map((i) => {
    const v = value(rows.find((x) => x.impl === i && x.shape === k.shape && x.pass === k.pass));
    return v === undefined ? '—' : v.toFixed(2);
  }).join(' | ')} |`);
  const md = [`## ${o.title} (${f.file})`, '', `${o.about} Source: \`${join(dir, f.file)}\`.`, '', head, ...body, '', `![${o.title} ${o.unit}](${svgName})`, ''].join('\n');
  return { md, svg, svgName };
}

function gemmSection(f: ResultFile, dir: string): { md: string; svg: string; svgName: string } {
  const rows = f.rows as GemmRow[];
  const impls = [...new Set(rows.map((r) => r.impl))];
  const sizes = [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b);
  const series: Series[] = impls.map((impl) => {
    const rs = rows.filter((r) => r.impl === impl).sort((a, b) => a.n - b.n);
    return { name: impl, x: rs.map((r) => r.n), y: rs.map((r) => r.gflops) };
  });
  const svgName = f.file.replace(/\.json$/, '.svg');
  const svg = plotSvg([{ title: `GEMM C = A·B, fp32 (${f.date})`, xLabel: 'n (square n×n matrices)', yLabel: 'GFLOP/s', series, logX: true, xTicks: sizes, yInclude: [0] }]);
  const head = `| n | ${impls.join(' | ')} |\n|---|${impls.map(() => '---|').join('')}`;
  const body = sizes.map((n) => `| ${n} | ${impls.map((i) => { const r = rows.find((x) => x.impl === i && x.n === n); return r ? r.gflops.toFixed(2) : '—'; }).join(' | ')} |`);
  const md = [`## GEMM (${f.file})`, '', `GFLOP/s, median of timed runs (each ends in a readback). Source: \`${join(dir, f.file)}\`.`, '', head, ...body, '', `![GEMM GFLOP/s](${svgName})`, ''].join('\n');
  return { md, svg, svgName };
}

function trainSection(fs: ResultFile[]): { md: string; svg: string; svgName: string } {
  const latest = fs[fs.length - 1];
  const rows = fs.flatMap((f) => (f.rows as TrainBench[]).map((r) => ({ ...r, date: f.date, file: f.file })));
  const svgName = `${latest.date}-train.svg`;
  const md: string[] = ['## Training step throughput', '', 'Samples per second over whole training steps (forward, loss, backward, update) on MNIST batches.', ''];
  md.push('| file | model | backend | batch | steps | samples/s | submits/step | buffers created after warm-up |', '|---|---|---|---|---|---|---|---|');
  for (const r of rows) md.push(`| ${r.file} | ${r.model} | ${r.backend} | ${r.batchSize} | ${r.steps} | ${r.samplesPerSec.toFixed(0)} | ${r.submitsPerStep ?? '—'} | ${r.buffersCreatedAfterWarmup ?? '—'} |`);
  // Throughput per engine across batch sizes when the results hold several, else one point per (model, engine).
  const keys = [...new Set(rows.map((r) => `${r.model} · ${r.backend}`))];
  const series: Series[] = keys.map((k) => {
    const rs = rows.filter((r) => `${r.model} · ${r.backend}` === k).sort((a, b) => a.batchSize - b.batchSize);
    return { name: k, x: rs.map((r) => r.batchSize), y: rs.map((r) => r.samplesPerSec) };
  });
  const batches = [...new Set(rows.map((r) => r.batchSize))].sort((a, b) => a - b);
  const svg = plotSvg([{ title: 'Training throughput', xLabel: 'batch size', yLabel: 'samples/s', series, logX: true, xTicks: batches, yInclude: [0] }]);
  md.push('', `![training samples/s](${svgName})`, '');
  return { md: md.join('\n'), svg, svgName };
}

/** The line after which README.md is written by hand (the tuning history): a new report keeps everything from it on. */
export const NOTES_MARKER = '<!-- Hand-written notes below: `wgtrain bench report` keeps them. -->';

async function keptNotes(readme: string): Promise<string> {
  let old = '';
  try { old = await readFile(readme, 'utf8'); } catch { return ''; }
  const at = old.indexOf(NOTES_MARKER);
  return at < 0 ? '' : `\n${old.slice(at)}`;
}

/** Writes one SVG per benchmark and README.md into `dir`; returns the files written. */
export async function benchReport(dir: string): Promise<string[]> {
  const results = await readResults(dir);
  if (!results.length) throw new UsageError(`bench report: no result files in ${dir} (expected YYYY-MM-DD-<name>.json from 'wgtrain bench ... --json')`);
  const sections: { md: string; svg: string; svgName: string }[] = [];
  const gemm = results.filter((f) => f.rows.every(isGemm));
  const latestGemm = new Map(gemm.map((f) => [f.kind, f]));
  for (const f of latestGemm.values()) sections.push(gemmSection(f, dir));
  const train = results.filter((f) => f.rows.every(isTrain));
  if (train.length) sections.push(trainSection(train));
  const conv = results.filter((f) => f.rows.length && f.rows.every(isConv));
  for (const f of new Map(conv.map((f) => [f.kind, f])).values()) {
    sections.push(shapeSection(f, dir, {
      title: 'conv2d', about: 'GFLOP/s (2·N·O·C·KH·KW·OH·OW a forward, twice that a backward), median of timed runs; shapes NxCxHxW:OxKHxKW:pPad[:sStride].',
      metric: 'gflops', unit: 'GFLOP/s', xLabel: 'MFLOP per forward', x: sizeOf((s) => convFlops(parseConvShape(s)) / 1e6),
    }));
  }
  const xent = results.filter((f) => f.rows.length && f.rows.every(isXent));
  for (const f of new Map(xent.map((f) => [f.kind, f])).values()) {
    sections.push(shapeSection(f, dir, {
      title: 'Softmax cross-entropy', about: 'Loss and gradient of [B, C] logits, GB/s of the minimum traffic (8·B·C + 4·B bytes), median of timed runs.',
      metric: 'gbps', unit: 'GB/s', xLabel: 'logits elements B·C', x: sizeOf((s) => { const [b, c] = parseXentSize(s); return b * c; }),
    }));
  }
  const charted = [...gemm, ...train, ...conv, ...xent];
  const unknown = results.filter((f) => !charted.includes(f)).map((f) => f.file);

  const written: string[] = [];
  for (const s of sections) { await writeFile(join(dir, s.svgName), s.svg); written.push(join(dir, s.svgName)); }
  const md = [
    '# Benchmark results',
    '',
    `Generated by \`npx wgtrain bench report\` from the JSON files in this folder; the notes after the tables are kept.`,
    '',
    ...sections.map((s) => s.md),
    ...(unknown.length ? [`Not charted (unrecognised format): ${unknown.map((f) => `\`${basename(f)}\``).join(', ')}`, ''] : []),
  ].join('\n');
  await writeFile(join(dir, 'README.md'), md + await keptNotes(join(dir, 'README.md')));
  written.push(join(dir, 'README.md'));
  return written;
}
