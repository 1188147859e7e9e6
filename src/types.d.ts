declare module '*.wgsl' {
  const source: string;
  export default source;
}
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
declare module '*.py' {
  const source: string;
  export default source;
}
