"""PyTorch on the CPU, the same work as wgtrain's benchmarks, for `wgtrain bench ... --compare torch`.

Reads one JSON request on stdin: {"threads": T, "gemm": [n, ...], "train": [{"model", "batchSize", "steps", "gpt"?}, ...]}
and prints one JSON object: {"torch": version, "threads": T, "gemm": [{"n", "ms", "min", "max"}],
"train": [{"model", "batchSize", "steps", "seconds"}]}. Timing as bench/timing.ts does it: warm-up, then medians.
The models are wgtrain's `mlp` and `cnn` (src/nn/config.ts), trained with SGD momentum 0.9 and cross-entropy on
seeded random inputs of MNIST's shape (a step's cost does not depend on the pixel values), and the GPT of
`wgtrain bench train --model gpt` (bench/train_gpt.ts; "gpt" holds its vocab, context, dim, heads and layers): pre-norm
blocks, causal attention, tanh GELU MLPs, AdamW at lr 1e-3, on random token windows; its "seconds" are for
steps x batchSize x context tokens.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def median_ms(fn, warmup=1, min_iterations=5, min_ms=1000.0):
    for _ in range(warmup):
        fn()
    times = []
    t0 = time.perf_counter()
    while len(times) < min_iterations or (time.perf_counter() - t0) * 1000 < min_ms:
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
        if len(times) >= 200:
            break
    times.sort()
    return {"ms": times[len(times) // 2], "min": times[0], "max": times[-1]}


def gemm(n):
    g = torch.Generator().manual_seed(n)
    a = torch.rand(n, n, generator=g) - 0.5
    b = torch.rand(n, n, generator=g) - 0.5
    return {"n": n, **median_ms(lambda: torch.mm(a, b))}


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, h, mask):
        B, T, D = h.shape
        q, k, v = self.qkv(self.ln1(h)).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        p = torch.softmax(q @ k.transpose(-1, -2) / (D // self.heads) ** 0.5 + mask, dim=-1)
        h = h + self.out((p @ v).transpose(1, 2).reshape(B, T, D))
        return h + self.fc2(F.gelu(self.fc1(self.ln2(h)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, context, dim, heads, layers):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Parameter(torch.randn(context, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.ln, self.head = nn.LayerNorm(dim), nn.Linear(dim, vocab)
        self.register_buffer("mask", torch.triu(torch.full((context, context), float("-inf")), 1))

    def forward(self, ids):
        h = self.tok(ids) + self.pos
        for b in self.blocks:
            h = b(h, self.mask)
        return self.head(self.ln(h))


def train_gpt(batch, steps, cfg, passes=1):
    torch.manual_seed(1)
    net = Gpt(cfg["vocab"], cfg["context"], cfg["dim"], cfg["heads"], cfg["layers"])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    xs = torch.randint(0, cfg["vocab"], (4, batch, cfg["context"]))
    ys = torch.randint(0, cfg["vocab"], (4, batch, cfg["context"]))

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xs[i]).reshape(-1, cfg["vocab"]), ys[i].reshape(-1))
        loss.backward()
        opt.step()
        return loss

    for i in range(2):
        step(i)

    def timed_pass():
        for s in range(steps):
            loss = step(s % 4)
            if s % 20 == 19:
                loss.item()
        loss.item()

    t = median_ms(timed_pass, warmup=0, min_iterations=passes, min_ms=0)
    return {"model": "gpt", "batchSize": batch, "steps": steps, "seconds": t["ms"] / 1000}


def model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))
    raise SystemExit(f"torch_cpu.py: no PyTorch version of model '{name}'")


def train(name, batch, steps, passes=1):
    torch.manual_seed(1)
    net = model(name)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    batches = min(steps, 100)
    xs = torch.randn(batches, batch, 1, 28, 28)
    ys = torch.randint(0, 10, (batches, batch))

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xs[i]), ys[i])
        loss.backward()
        opt.step()
        return loss

    for i in range(min(5, batches)):
        step(i)

    def timed_pass():
        for s in range(steps):
            loss = step(s % batches)
            if s % 50 == 49:
                loss.item()  # as wgtrain's loop reads its loss every 50 steps
        loss.item()

    # `passes` timed passes of `steps` steps, the median kept: on a shared 2-core machine one pass can be 2x off.
    t = median_ms(timed_pass, warmup=0, min_iterations=passes, min_ms=0)
    return {"model": name, "batchSize": batch, "steps": steps, "seconds": t["ms"] / 1000}


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(int(req.get("threads", 2)))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "gemm": [], "train": []}
    with torch.no_grad():
        out["gemm"] = [gemm(n) for n in req.get("gemm", [])]
    out["train"] = [train_gpt(t["batchSize"], t["steps"], t["gpt"], t.get("passes", 1)) if t["model"] == "gpt" else train(t["model"], t["batchSize"], t["steps"], t.get("passes", 1))
                    for t in req.get("train", [])]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
