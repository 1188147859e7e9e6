// JSON model files on disk (Node): building a model from a config object is config.ts, which browsers can bundle.
import { readBoundedText, INPUT_LIMITS } from '../store/read_bounded.js';
import { ConfigError, ModelConfig } from './config.js';
import { MAX_CONFIG_DEPTH, jsonTextDepth } from './budget.js';

/** Reads a JSON model file (a regular file of at most INPUT_LIMITS.modelConfig); any problem is a ConfigError naming it. */
export async function loadModelConfig(path: string): Promise<ModelConfig> {
  const text = await readBoundedText(path, {
    maxBytes: INPUT_LIMITS.modelConfig, expected: 'a JSON model config', error: (m) => new ConfigError(m),
    openError: (e) => new ConfigError(`${path}: cannot read the model config (${e.code ?? e.message}; expected a JSON file like {"input":[784],"layers":[{"type":"linear","out":10}]})`),
  });
  // Measured on the text: JSON.parse of arrays nested 100,000 deep is itself a stack overflow on some engines.
  if (jsonTextDepth(text, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH) throw new ConfigError(`${path}: nested more than ${MAX_CONFIG_DEPTH} levels deep (expected at most ${MAX_CONFIG_DEPTH}; each residual block nests two)`);
  try {
    return JSON.parse(text) as ModelConfig;
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}
