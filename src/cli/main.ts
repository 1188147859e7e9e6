// The `wgtrain` command. User mistakes print one line and exit 2; --debug shows the stack.
import { UsageError, parse } from './args.js';
import { info } from './info.js';
import { train, TRAIN_HELP } from './train.js';
import { bench, BENCH_HELP } from './bench.js';
import { check, CHECK_HELP } from './check.js';
import { predict, PREDICT_HELP } from './predict.js';
import { fuzz, FUZZ_HELP } from './fuzz.js';
import { exportCommand, EXPORT_HELP } from './export.js';
import { importCommand, IMPORT_HELP } from './import.js';
import { profile, PROFILE_HELP } from './profile.js';
import { generate, GENERATE_HELP } from './generate.js';
import { tune, TUNE_HELP, useDiskCache } from './tune.js';
import { UserError } from '../util/errors.js';
import { setAdapterRequestHook, setSubmitHook } from '../backends/webgpu/device.js';
import { periodicGc } from './native_gc.js';
import { withDawnWarningsFiltered } from './dawn_warnings.js';

const HELP = `usage: wgtrain <command> [options]

commands:
  info      show the WebGPU adapter, its limits and features  (--json)
  train     train a model on MNIST or a CSV table; --model takes a name or a JSON model file  (wgtrain train --help)
  predict   classes (or a regression's values) for IDX images or CSV rows from a checkpoint  (wgtrain predict --help)
  generate  text from a GPT checkpoint  (wgtrain generate --help)
  bench     kernel benchmarks, side by side with TF.js  (wgtrain bench --help)
  profile   where a training step's time goes, kernel by kernel; --trace writes a Chrome trace  (wgtrain profile --help)
  tune      the GEMM and conv choices measured for a model on this adapter, per node  (wgtrain tune --help)
  check     one training step on WebGPU vs the CPU reference, node by node  (wgtrain check --help)
  fuzz      random small graphs, forward and backward, WebGPU vs the CPU reference  (wgtrain fuzz --help)
  export    a checkpoint as a PyTorch project that continues training (DDP), or as ONNX  (wgtrain export --help)
  import    a PyTorch state_dict as a wgtrain checkpoint  (wgtrain import --help)

global: --debug shows stack traces`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  info: { run: (argv) => info(parse('info', argv, { json: { type: 'boolean' } }).json === true), help: 'usage: wgtrain info [--json]' },
  train: { run: train, help: TRAIN_HELP },
  predict: { run: predict, help: PREDICT_HELP },
  generate: { run: generate, help: GENERATE_HELP },
  bench: { run: bench, help: BENCH_HELP },
  check: { run: check, help: CHECK_HELP },
  fuzz: { run: fuzz, help: FUZZ_HELP },
  export: { run: exportCommand, help: EXPORT_HELP },
  import: { run: importCommand, help: IMPORT_HELP },
  profile: { run: profile, help: PROFILE_HELP },
  tune: { run: tune, help: TUNE_HELP },
};

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [cmd, ...rest] = args;
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(HELP); return 0; }
    const c = COMMANDS[cmd];
    if (!c) throw new UsageError(`unknown command '${cmd}' (expected one of: ${Object.keys(COMMANDS).join(', ')})`);
    if (rest.includes('--help') || rest.includes('-h')) { console.log(c.help); return 0; }
    await c.run(rest);
    return 0;
  } catch (e) {
    const err = e as Error;
    if (debug) console.error(err.stack);
    // One line: a message that spans several (a driver's, an assertion's) is joined.
    console.error(`wgtrain: ${String(err.message).trim().replace(/\s*\n\s*/g, ' ')}`);
    // A mistake in what the user passed (a flag, a file, a shape) exits with its class's code, 2; anything else is 1.
    return err instanceof UserError ? err.exitCode : 1;
  }
}

setAdapterRequestHook(withDawnWarningsFiltered);
setSubmitHook(periodicGc());
useDiskCache();
main(process.argv.slice(2)).then((code) => process.exit(code));
