// Every composite op's spec (see composite.ts), for the harnesses that run each one: gradcheck, parity and the fuzzer.
import type { CompositeSpec } from './composite.js';
import { LAYER_NORM } from './norm.js';
import { CONV2D, CONV_TRANSPOSE } from './conv.js';
import { UPSAMPLE } from './resample.js';
import { RMS_NORM, ATTENTION } from './attention.js';

export const COMPOSITES: readonly CompositeSpec[] = [LAYER_NORM, RMS_NORM, ATTENTION, CONV2D, CONV_TRANSPOSE, UPSAMPLE];
