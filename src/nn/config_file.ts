// JSON model files on disk (Node): building a model from a config object is config.ts, which browsers can bundle.
import { readFile } from 'node:fs/promises';
import { ConfigError, ModelConfig } from './config.js';

/** Reads and builds a JSON model file; a missing file or bad JSON is a ConfigError naming the file. */
export async function loadModelConfig(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`${path}: cannot read the model config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; expected a JSON file like {"input":[784],"layers":[{"type":"linear","out":10}]})`);
  }
  try {
    return JSON.parse(text) as ModelConfig;
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}
