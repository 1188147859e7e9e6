// Flag parsing with node:util, turning every mistake into a one-line UsageError.
import { parseArgs } from 'node:util';
import { UsageError } from '../util/usage_error.js';

export { UsageError };

type Spec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string; multiple?: boolean }>;

export function parse(command: string, argv: string[], spec: Spec): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args: argv, options: spec, allowPositionals: false, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')} (see 'wgtrain ${command} --help')`);
  }
}

export function intFlag(command: string, name: string, v: unknown, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${command}: --${name} must be an integer >= ${min}, got '${v}'`);
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
