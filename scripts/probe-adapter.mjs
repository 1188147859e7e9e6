// Exit 0 and print the adapter's name when Dawn (the `webgpu` package) finds a WebGPU adapter; exit 1 otherwise.
// The setup script uses this to decide whether a software Vulkan driver must be installed.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const timer = setTimeout(() => { console.error('no adapter: requestAdapter timed out'); process.exit(1); }, 30000);
try {
  const adapter = await create([]).requestAdapter();
  clearTimeout(timer);
  if (!adapter) { console.error('no adapter'); process.exit(1); }
  const i = adapter.info ?? {};
  console.log(`${i.vendor || '?'} ${i.architecture || ''} ${i.description || i.device || ''}`.replace(/\s+/g, ' ').trim());
  process.exit(0);
} catch (e) {
  clearTimeout(timer);
  console.error(`no adapter: ${e?.message ?? e}`);
  process.exit(1);
}
