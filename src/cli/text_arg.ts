// What the GPT commands share: the text a run reads (a file the user names, or the default corpus that
// `scripts/setup.sh text` installs) and the model's shape flags.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GptConfig, GPT_DEFAULTS, PositionKind } from '../nn/transformer.js';
import type { TokenizerKind } from '../data/text.js';
import { intFlag, choice, UsageError } from './args.js';

/** Debian's `fortunes`: English quotations, jokes and poems, one file per theme, entries separated by lines of '%'. */
export const DEFAULT_CORPUS_DIR = '/usr/share/games/fortunes';

export async function loadText(command: string, file?: string): Promise<{ text: string; description: string }> {
  if (file !== undefined) {
    let text: string;
    try { text = await readFile(file, 'utf8'); } catch (e) {
      throw new UsageError(`${command}: cannot read --data ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message} (expected a UTF-8 text file)`);
    }
    if (text.includes('\u0000')) throw new UsageError(`${command}: --data ${file} holds NUL bytes: it looks binary (expected a UTF-8 text file)`);
    return { text, description: `${file}, ${text.length.toLocaleString('en')} characters` };
  }
  const names = await readdir(DEFAULT_CORPUS_DIR).catch(() => undefined);
  if (!names) throw new UsageError(`${command}: no --data FILE.txt given and the default corpus (${DEFAULT_CORPUS_DIR}, Debian's fortunes) is not installed; run 'scripts/setup.sh text' or pass --data FILE.txt`);
  const parts: string[] = [];
  for (const n of names.filter((n) => !n.includes('.')).sort()) {
    const p = join(DEFAULT_CORPUS_DIR, n);
    if (!(await stat(p)).isFile()) continue;
    parts.push((await readFile(p, 'latin1')).replace(/^%\n/gm, '\n'));
  }
  const text = parts.join('\n');
  return { text, description: `Debian fortunes (${DEFAULT_CORPUS_DIR}, ${parts.length} files), ${text.length.toLocaleString('en')} characters` };
}

/** The flags that shape a GPT, with their defaults: shared by train and check. */
export const GPT_FLAGS = {
  context: { type: 'string', default: String(GPT_DEFAULTS.context) }, dim: { type: 'string', default: String(GPT_DEFAULTS.dim) },
  heads: { type: 'string', default: String(GPT_DEFAULTS.heads) }, layers: { type: 'string', default: String(GPT_DEFAULTS.layers) },
  positions: { type: 'string', default: GPT_DEFAULTS.positions }, dropout: { type: 'string', default: String(GPT_DEFAULTS.dropout) },
  tokenizer: { type: 'string', default: 'char' },
} as const;

export const GPT_FLAGS_HELP = `  --context N         positions the model reads  [${GPT_DEFAULTS.context}]
  --dim N             features per position  [${GPT_DEFAULTS.dim}]
  --heads N           attention heads (a divisor of --dim)  [${GPT_DEFAULTS.heads}]
  --layers N          transformer blocks  [${GPT_DEFAULTS.layers}]
  --positions KIND    learned or sinusoidal  [${GPT_DEFAULTS.positions}]
  --dropout X         on the attention weights, in training  [${GPT_DEFAULTS.dropout}]
  --tokenizer KIND    char (the text's characters) or byte (UTF-8 bytes, 256 ids)  [char]`;

type Flags = Record<string, string | boolean | undefined>;

export const tokenizerKind = (command: string, f: Flags) => choice<TokenizerKind>(command, 'tokenizer', f.tokenizer, ['char', 'byte']);

export function gptConfig(command: string, f: Flags, vocab: number): GptConfig {
  const dim = intFlag(command, 'dim', f.dim), heads = intFlag(command, 'heads', f.heads);
  if (dim % heads !== 0) throw new UsageError(`${command}: --heads ${heads} does not divide --dim ${dim} (expected a divisor)`);
  const dropout = Number(f.dropout);
  if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`${command}: --dropout must be a number in [0, 1), got '${f.dropout}'`);
  return {
    vocab, context: intFlag(command, 'context', f.context), dim, heads, layers: intFlag(command, 'layers', f.layers),
    positions: choice<PositionKind>(command, 'positions', f.positions, ['learned', 'sinusoidal']), dropout,
  };
}
