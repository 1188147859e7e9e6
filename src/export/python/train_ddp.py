"""Continues a wgtrain run in PyTorch, on one process or many (DistributedDataParallel).

    torchrun --nproc_per_node=2 train_ddp.py --epochs 1     # where torchrun works
    python3 train_ddp.py --nproc 2 --epochs 1                # starts the processes itself (torch.multiprocessing)

The model, its weights (model.safetensors), the optimizer's state (optimizer.safetensors) and the run's settings
(training.json: optimizer hyper-parameters, learning-rate schedule and its position, batch size, data) come from
`wgtrain export`. Without --lr, the learning rate follows wgtrain's schedule from the step the checkpoint was saved at,
so the first step here is the step wgtrain would have taken next; with --lr X, a new schedule of the same kind starts
at X and spans the epochs asked for. Gradients are averaged over processes: each takes batch_size / N of every batch.
The backend is gloo on CPUs and NCCL when every process has a GPU.
"""
import argparse
import csv
import json
import math
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import load_model  # noqa: E402
from safetensors_io import load_safetensors, save_safetensors  # noqa: E402


def load_run(directory=HERE):
    with open(os.path.join(directory, 'training.json')) as f:
        return json.load(f)


# --- the learning rate: wgtrain's schedules (src/optim/schedules.ts), as functions of the 0-based step ----------
def lr_at(schedule, step):
    name, lr, warmup = schedule['name'], schedule['lr'], schedule.get('warmup', 0)
    total, per_epoch = schedule['total'], schedule['steps_per_epoch']

    def inner(s):
        if name == 'cosine':
            return 0.5 * lr * (1 + math.cos(math.pi * min(s, total) / total))
        if name == 'step':
            return lr * schedule['gamma'] ** (s // (schedule['step_epochs'] * per_epoch))
        if name == 'exponential':
            return lr * schedule['gamma'] ** (s / per_epoch)
        # constant, and plateau: no validation metric here, so the rate the run had reached stays.
        return lr

    return inner(0) * (step + 1) / warmup if step < warmup else inner(step - warmup)


# --- the optimizer, with wgtrain's state under torch.optim's names --------------------------------------------
def make_optimizer(model, run, directory=HERE):
    """torch.optim's counterpart of the run's optimizer, holding the exported state (moments, step counts)."""
    spec = run['optimizer']
    params = dict(model.named_parameters())
    trainable = [p for p in params.values() if p.requires_grad]
    opt = getattr(torch.optim, spec['class'])(trainable, **spec['kwargs'])
    if spec['class'] == 'NAdam' and int(torch.__version__.split('.')[0]) < 2:
        print('train_ddp.py: note: PyTorch 1.x NAdam multiplies mu into mu_product_next twice; its steps differ slightly '
              "from wgtrain's (and PyTorch 2's)", file=sys.stderr)
    if run['step'] > 0:
        slots, _ = load_safetensors(os.path.join(directory, 'optimizer.safetensors'))
        for name, p in params.items():
            if not p.requires_grad:
                continue
            state = {slot: slots[f'{name}.{slot}'].clone() for slot in spec['slots']}
            for key, value in spec.get('scalars', {}).items():
                state[key] = torch.tensor(float(value))
            opt.state[p] = state
    return opt


def train_step(model, opt, x, y, lr, run):
    """One step as wgtrain takes it: mean softmax cross-entropy (plus the run's l1/l2 weight penalties), gradient
    clipping to the run's global norm, then the optimizer at learning rate lr. Returns the data loss."""
    for group in opt.param_groups:
        group['lr'] = lr
    opt.zero_grad(set_to_none=True)
    out = model(x)
    # [batch, classes] scores, or a GPT's [batch, time, vocab] logits for [batch, time] next tokens.
    loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    total = loss
    l1, l2 = run.get('l1') or 0, run.get('l2') or 0
    if l1 or l2:
        # wgtrain's penalties cover the weights (rank >= 2), not biases or norm scales.
        weights = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
        total = total + sum(l1 * p.abs().sum() + l2 * (p * p).sum() for p in weights)
    total.backward()
    if run.get('clip_norm'):
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], run['clip_norm'])
    opt.step()
    return loss.detach()


# --- data: what the run trained on --------------------------------------------------------------------------
def read_idx(path, limit=None):
    with open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    if limit is not None:
        shape[0] = min(shape[0], limit)
    count = int(np.prod(shape))
    return np.frombuffer(data, dtype=np.uint8, count=count, offset=4 + 4 * dims).reshape(shape)


def load_data(run, limit=None, test_limit=None, data_file=None):
    """(train_x, train_y, test_x, test_y) as tensors, scaled as wgtrain scaled them."""
    d = run['data']
    if d['kind'] == 'mnist':
        def split(prefix, n):
            x = read_idx(os.path.join(d['dir'], f'{prefix}-images-idx3-ubyte'), n).astype(np.float32) / 255
            y = read_idx(os.path.join(d['dir'], f'{prefix}-labels-idx1-ubyte'), n).astype(np.int64)
            return torch.from_numpy((x - d['mean']) / d['std']), torch.from_numpy(y)
        n = d.get('limit') if limit is None else limit
        return (*split('train', n), *split('t10k', test_limit))
    if d['kind'] == 'csv':
        with open(d['file'], newline='') as f:
            rows = list(csv.DictReader(f))
        classes = {c: i for i, c in enumerate(d['classes'])}
        x = np.array([[float(r[c]) for c in d['features']] for r in rows], dtype=np.float32)
        x = (x - np.array(d['mean'], dtype=np.float32)) / np.array(d['std'], dtype=np.float32)
        y = np.array([classes[r[d['label']]] for r in rows], dtype=np.int64)
        # wgtrain's held-out rows: the first round(fraction * n) of a permutation only wgtrain can draw, so here a
        # fixed split by the run's seed; accuracies are comparable in spirit, not row for row.
        order = np.random.default_rng(run['seed']).permutation(len(rows))
        held = round(d['test_split'] * len(rows))
        test, train = order[:held], order[held:]
        return torch.from_numpy(x[train]), torch.from_numpy(y[train]), torch.from_numpy(x[test]), torch.from_numpy(y[test])
    if d['kind'] == 'text':
        return text_windows(d, data_file)
    raise SystemExit(f"train_ddp.py: data of kind {d['kind']!r} is not supported by this script")


def text_windows(d, path):
    """A GPT's text as windows of `context` token ids and their next tokens, with wgtrain's tokenizer; the last 10%
    of the text is held out, as wgtrain holds out its tail."""
    if not path:
        raise SystemExit("train_ddp.py: a GPT's checkpoint does not record its text file: pass --data FILE (the text it was trained on)")
    with open(path, 'rb') as f:
        raw = f.read()
    tok = d['tokenizer']
    if tok['kind'] == 'byte':
        ids = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    else:
        index = {c: i for i, c in enumerate(tok['chars'])}
        text = raw.decode('utf-8')
        unknown = sorted(set(text) - index.keys())
        if unknown:
            raise SystemExit(f'train_ddp.py: {path} has characters outside the vocabulary the model was trained on: {unknown[:10]}')
        ids = np.array([index[c] for c in text], dtype=np.int64)
    T, held = d['context'], len(ids) // 10

    def windows(a):
        n = (len(a) - 1) // T
        return torch.from_numpy(a[:n * T].reshape(n, T).copy()), torch.from_numpy(a[1:n * T + 1].reshape(n, T).copy())
    return (*windows(ids[:len(ids) - held]), *windows(ids[len(ids) - held:]))


def accuracy(model, x, y, batch=250):
    """The fraction of right predictions: classes, or a GPT's next tokens."""
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + batch]).argmax(-1) == y[i:i + batch]).sum().item() for i in range(0, len(x), batch))
    model.train()
    return correct / y.numel()


# --- the processes -------------------------------------------------------------------------------------------
def worker(rank, world, args):
    if world > 1 and not dist.is_initialized():
        backend = 'nccl' if torch.cuda.is_available() and torch.cuda.device_count() >= world else 'gloo'
        dist.init_process_group(backend, rank=rank, world_size=world)
    device = torch.device(f'cuda:{rank}') if world > 1 and dist.get_backend() == 'nccl' else torch.device('cpu')
    if device.type == 'cpu' and 'OMP_NUM_THREADS' not in os.environ:
        # N processes on one machine's cores: N times the default thread count would only make them wait on each other.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(args.seed)
    run = load_run()
    if run.get('loss', 'softmax_xent') != 'softmax_xent':
        raise SystemExit(f"train_ddp.py: the run's loss is {run['loss']}; this script continues cross-entropy classifiers "
                         '(model.py and model.safetensors hold the model and its weights all the same)')
    if run.get('freeze') and rank == 0:
        print(f"train_ddp.py: note: the run froze {run['freeze']}; this script trains every parameter", file=sys.stderr)
    model = load_model(os.path.join(HERE, 'model.safetensors')).to(device)
    opt = make_optimizer(model, run)
    net = DistributedDataParallel(model) if world > 1 else model

    train_x, train_y, test_x, test_y = load_data(run, args.limit, args.test_limit, args.data)
    train_x, train_y = train_x[:args.limit], train_y[:args.limit]  # (slicing with None keeps everything)
    test_x, test_y = test_x[:args.test_limit], test_y[:args.test_limit]
    batch = run['batch_size']
    if batch % world:
        raise SystemExit(f'train_ddp.py: the batch size {batch} does not split evenly over {world} processes')
    per_rank = batch // world
    steps_per_epoch = len(train_x) // batch  # whole batches only, so every process takes the same number of steps
    schedule = dict(run['schedule'])
    step = run['step']
    if args.lr is not None:
        # A new schedule of the run's kind over the epochs asked for, from step 0.
        schedule.update(lr=args.lr, warmup=0, total=max(1, args.epochs * steps_per_epoch), steps_per_epoch=steps_per_epoch)
        step = 0
    elif schedule['name'] == 'cosine' and step >= schedule['warmup'] + schedule['total']:
        raise SystemExit(f"train_ddp.py: wgtrain's cosine schedule ended at step {step} (the learning rate is 0 from "
                         'there on); pass --lr X to start a new one at X over the epochs asked for')
    if rank == 0:
        print(f'{world} process(es), backend {dist.get_backend() if world > 1 else "none"}; {len(train_x)} training examples, '
              f'batch {batch} ({per_rank} per process), {run["optimizer"]["class"]}, continuing from wgtrain step {run["step"]}', flush=True)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        order = torch.randperm(len(train_x), generator=generator)  # the same on every process: each takes its slice
        losses = []
        for b in range(steps_per_epoch):
            idx = order[b * batch + rank * per_rank:b * batch + (rank + 1) * per_rank]
            x, y = train_x[idx].to(device), train_y[idx].to(device)
            losses.append(train_step(net, opt, x, y, lr_at(schedule, step), run))
            step += 1
            if rank == 0 and args.log_every and (b + 1) % args.log_every == 0:
                print(f'  step {b + 1}/{steps_per_epoch}: loss {torch.stack(losses[-args.log_every:]).mean().item():.4f} (this process)', flush=True)
        mean = torch.stack(losses).mean() if losses else torch.tensor(float('nan'))
        if world > 1:
            dist.all_reduce(mean)
            mean /= world
        if rank == 0:
            thirds = [torch.stack(losses[i * len(losses) // 3:(i + 1) * len(losses) // 3]).mean().item() for i in range(3)] if len(losses) >= 3 else []
            print(f'epoch {epoch + 1}: mean loss {mean.item():.4f} (by thirds: {", ".join(f"{t:.4f}" for t in thirds)}), '
                  f'test accuracy {accuracy(model, test_x.to(device), test_y.to(device)):.4f}', flush=True)
    if rank == 0 and args.save:
        save_safetensors(args.save, model.state_dict())
        print(f'wrote {args.save}', flush=True)
    if world > 1:
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, default=1, help='passes over the training data [1]')
    p.add_argument('--lr', type=float, help="start a new schedule (the run's kind) at this rate instead of continuing wgtrain's")
    p.add_argument('--nproc', type=int, default=1, help='without torchrun: start this many processes [1]')
    p.add_argument('--limit', type=int, help='train on the first N examples only')
    p.add_argument('--test-limit', type=int, help='measure accuracy on the first N test examples only')
    p.add_argument('--data', help="a GPT's text file (its checkpoint records the tokenizer, not the file)")
    p.add_argument('--seed', type=int, default=1, help='shuffling [1]')
    p.add_argument('--log-every', type=int, default=200, help='print the mean loss every N steps (0: only per epoch) [200]')
    p.add_argument('--save', help="write the trained state_dict here (safetensors; `wgtrain import` reads it)")
    args = p.parse_args()
    if 'RANK' in os.environ and 'WORLD_SIZE' in os.environ:  # started by torchrun
        worker(int(os.environ['RANK']), int(os.environ['WORLD_SIZE']), args)
    elif args.nproc > 1:
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', str(29500 + os.getpid() % 1000))
        torch.multiprocessing.spawn(worker, args=(args.nproc, args), nprocs=args.nproc)
    else:
        worker(0, 1, args)


if __name__ == '__main__':
    main()
