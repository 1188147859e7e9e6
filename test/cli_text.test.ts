// The GPT commands as a user meets them: train on a text file, generate from the checkpoint, check node by node, and
// one-line errors with exit code 2 for bad input.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (args: string[]) => spawnSync(process.execPath, ['bin/wgtrain.js', ...args], { encoding: 'utf8', timeout: 300_000 });
const dir = mkdtempSync(join(tmpdir(), 'wgtrain-text-'));
const text = join(dir, 'story.txt');
const SMALL = ['--context', '16', '--dim', '16', '--heads', '2', '--layers', '1', '--batch-size', '4'];

describe('wgtrain train --model gpt, generate, check --model gpt', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['scripts/build.mjs']);
    writeFileSync(text, 'once upon a time there was a small cat who liked to sit in the sun. '.repeat(60));
  });

  it('trains on a text file, reports tokens/s and held-out loss against the unigram loss, and writes the summary', () => {
    const ck = join(dir, 'gpt.safetensors'), js = join(dir, 'gpt.json');
    const r = cli(['train', '--model', 'gpt', '--data', text, ...SMALL, '--steps', '40', '--log-every', '20', '--lr', '0.01', '--warmup', '5', '--save', ck, '--json', js]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step 20 {2}loss [\d.]+ {2}[\d,]+ tokens\/s/);
    expect(r.stdout).toMatch(/held-out loss [\d.]+ nats\/char \(unigram [\d.]+, ratio [\d.]+\)/);
    const s = JSON.parse(readFileSync(js, 'utf8'));
    expect(s.steps).toBe(40);
    expect(s.tokensPerSec).toBeGreaterThan(0);
    expect(s.unigramLoss).toBeGreaterThan(2);
    // A repeated sentence: after 40 steps the model already knows much more than character frequencies.
    expect(s.valLoss).toBeLessThan(0.8 * s.unigramLoss);

    const g = cli(['generate', '--weights', ck, '--prompt', 'once ', '--tokens', '30', '--temperature', '0']);
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout.startsWith('once ')).toBe(true);
    expect(g.stdout.trimEnd().length).toBe(5 + 30);
    expect(g.stderr).toMatch(/30 tokens in [\d.]+ s/);
    const bad = cli(['generate', '--weights', ck, '--prompt', 'QX']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toMatch(/^wgtrain: generate: --prompt: tokenizer: the character "Q" is not in the model's vocabulary of \d+ characters$/);
  });

  it('check --model gpt compares one training step node by node', () => {
    const r = cli(['check', '--model', 'gpt', '--data', text, '--context', '8', '--dim', '8', '--heads', '2', '--layers', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok: \d+ nodes and \d+ variables within tolerance/);
  });

  it('mistakes: one line, exit code 2, and nothing of the user overwritten', () => {
    const mine = join(dir, 'notes.txt');
    writeFileSync(mine, 'my notes');
    const cases: [string[], RegExp][] = [
      [['train', '--model', 'gpt', '--data', join(dir, 'missing.txt')], /cannot read --data .*missing\.txt: no such file \(expected a UTF-8 text file\)/],
      [['train', '--model', 'gpt', '--data', text, '--heads', '3'], /--heads 3 does not divide --dim 128/],
      [['train', '--model', 'gpt', '--data', text, '--context', '5000'], /fewer than one window of 5001/],
      [['train', '--model', 'gpt', '--data', text, '--save', mine], /--save .*notes\.txt exists and is not a wgtrain checkpoint; refusing to overwrite it/],
      [['train', '--model', 'gpt', '--epochs', '3'], /train: Unknown option '--epochs'/],
      [['generate'], /--weights FILE is required/],
      [['generate', '--weights', mine], /notes\.txt/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:')).length, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
    expect(readFileSync(mine, 'utf8')).toBe('my notes');
  });
});
