// Every composite op's spec (see composite.ts), for the harnesses that run each one: gradcheck, parity and the fuzzer.
import type { CompositeSpec } from './composite.js';
import { LAYER_NORM } from './norm.js';

export const COMPOSITES: readonly CompositeSpec[] = [LAYER_NORM];
