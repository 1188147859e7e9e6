// onnxruntime-node 1.16.3 (the last release without a download at install) ships without its .d.ts; its API is
// onnxruntime-common's, which it re-exports.
declare module 'onnxruntime-node' {
  export * from 'onnxruntime-common';
}
