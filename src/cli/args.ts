// Flag parsing with node:util, turning every mistake into a one-line UsageError.
import { parseArgs } from 'node:util';
import { UsageError } from '../util/usage_error.js';

export { UsageError };

type Spec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string }>;
export type Flags = Record<string, string | boolean | undefined>;

export function parse(command: string, argv: string[], spec: Spec): Flags {
  return parseValues(command, argv, spec) as Flags;
}

/** parse(), where the string flags named in `repeatable` may be given more than once: their values, in order, are in the second result. */
export function parseRepeatable(command: string, argv: string[], spec: Spec, repeatable: readonly string[]): [Flags, Record<string, string[]>] {
  const values = parseValues(command, argv, Object.fromEntries(Object.entries(spec).map(([k, o]) => [k, repeatable.includes(k) ? { ...o, multiple: true } : o])));
  const lists = Object.fromEntries(repeatable.map((k) => [k, (values[k] as string[] | undefined) ?? []]));
  for (const k of repeatable) delete values[k];
  return [values as Flags, lists];
}

function parseValues(command: string, argv: string[], spec: Record<string, Spec[string] & { multiple?: boolean }>): Record<string, string | boolean | string[] | undefined> {
  // `--epochs -3`: node:util takes -3 for an option and explains over three lines; a negative number after a flag
  // that takes a value is that value, which the flag's own check then refuses in one line.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const o = argv[i].startsWith('--') ? spec[argv[i].slice(2)] : undefined;
    if (o?.type === 'string' && /^-[\d.]/.test(argv[i + 1] ?? '')) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  try {
    return parseArgs({ args, options: spec, allowPositionals: false, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (e) {
    // One line whatever node:util says.
    throw new UsageError(`${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '').replace(/\s*\n\s*/g, ' ')} (see 'wgtrain ${command} --help')`);
  }
}

export function intFlag(command: string, name: string, v: unknown, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof v === 'string' && v.trim() === '' ? NaN : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${command}: --${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`}, got '${v}'`);
  }
  return n;
}

export function numFlag(command: string, name: string, v: unknown, min = 0): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= min) throw new UsageError(`${command}: --${name} must be a number > ${min}, got '${v}'`);
  return n;
}

export function choice<T extends string>(command: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new UsageError(`${command}: --${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}
