// The smallest page that trains with wgtrain: XOR-like points, a two-layer MLP, fit on navigator.gpu. A user's page
// does the same with `import { … } from 'wgtrain'` (this demo imports the same entry from the sources).
import { WebGpuBackend, mlp, SGD, ClassifierTrainer, fit, Rng, type Dataset } from '../../src/index.js';

const rng = new Rng(1), n = 256, x = new Float32Array(n * 2), y = new Int32Array(n);
for (let i = 0; i < n; i++) { x[2 * i] = rng.next() * 2 - 1; x[2 * i + 1] = rng.next() * 2 - 1; y[i] = x[2 * i] * x[2 * i + 1] > 0 ? 1 : 0; }
const data: Dataset = { x, y, n, featureShape: [2], numClasses: 2 };

const trainer = new ClassifierTrainer(await WebGpuBackend.create(), mlp([2, 16, 2], rng), new SGD({ lr: 0.1, momentum: 0.9 }), [2]);
const history = await fit(trainer, data, { epochs: 40, batchSize: 32, callbacks: [{ onEpochEnd: (e, logs) => { document.getElementById('log')!.textContent = `epoch ${e + 1}: loss ${logs.loss.toFixed(3)}`; } }] });
const { accuracy } = await trainer.evaluate(data);
document.getElementById('log')!.textContent += `, accuracy ${(accuracy * 100).toFixed(0)}%`;
(globalThis as { minimalResult?: unknown }).minimalResult = { loss: history.loss, accuracy };
