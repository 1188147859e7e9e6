// A full garbage collection every GC_EVERY_SUBMITS training steps, so that native memory held by the JS wrappers of
// spent command encoders and command buffers (see afterSubmit in backends/webgpu/device.ts) is returned at a steady
// rate instead of whenever V8's own heuristics, blind to it, get round to it. Measured on lavapipe (mlp, batch 32): a
// collection of the ~6 MiB heap takes a few milliseconds, under 0.1% of 1,000 steps; without it RSS rose ~9 MiB per
// 2,000 steps and swung 43 MiB over 20,000.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const GC_EVERY_SUBMITS = 1000;

/** V8's gc(), reachable without --expose-gc: the flag is set, then a fresh context exposes the function. */
function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** The hook for setSubmitHook: collect every `every` submits. */
export function periodicGc(every = GC_EVERY_SUBMITS): () => void {
  const gc = exposeGc();
  let n = 0;
  return () => { if (gc && ++n % every === 0) gc(); };
}
