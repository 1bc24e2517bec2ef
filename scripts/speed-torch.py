#!/usr/bin/env python3
"""PyTorch side of `autoprune bench --suite speed`: the same model, data, batch and optimizer as the
tfjs side, timed per epoch on this machine. Called by src/bench/speed.ts; prints one JSON line.

  speed-torch.py --data X.f32 --labels Y.i32 --rows N --model lenet-300-100|lenet-5 --epochs E [--sparsity S] [--device cpu|cuda]

The data files are the raw float32 pixels (N x 784, 0..1) and int32 labels of the tfjs run's training
split. With --sparsity the first layers' kernels are masked at random at that fraction and the gradients
are masked (a fine-tuning epoch of a pruned model), as the tfjs side does. --device cuda (not used by the
benchmark, which compares CPUs) times the same epoch on a CUDA GPU, for docs/gpu.md's reference figure.
"""
import argparse, json, time
import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument('--data', required=True)
p.add_argument('--labels', required=True)
p.add_argument('--rows', type=int, required=True)
p.add_argument('--model', required=True)
p.add_argument('--epochs', type=int, default=3)
p.add_argument('--batch', type=int, default=128)
p.add_argument('--sparsity', type=float, default=0.0)
p.add_argument('--device', default='cpu')
a = p.parse_args()

torch.manual_seed(0)
x = torch.from_numpy(np.fromfile(a.data, dtype=np.float32).reshape(a.rows, 784)).clone()
y = torch.from_numpy(np.fromfile(a.labels, dtype=np.int32).astype(np.int64))
if a.model == 'lenet-300-100':
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
elif a.model == 'lenet-5':
    # Caffe LeNet-5 as src/models/families.ts builds it: conv 20@5x5, pool 2, conv 50@5x5, pool 2, dense 500, 10.
    x = x.reshape(a.rows, 1, 28, 28)
    model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
else:
    raise SystemExit(f'unknown model {a.model}')
dev = torch.device(a.device)
model.to(dev)
x, y = x.to(dev), y.to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
if a.sparsity > 0:
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            mask = (torch.rand(m.weight.shape, generator=g) >= a.sparsity).float().to(dev)
            with torch.no_grad():
                m.weight.mul_(mask)
            m.weight.register_hook(lambda grad, mask=mask: grad * mask)
sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
times = []
gen = torch.Generator().manual_seed(0)
for e in range(a.epochs):
    t0 = time.perf_counter()
    perm = torch.randperm(a.rows, generator=gen).to(dev)
    for s in range(0, a.rows, a.batch):
        idx = perm[s:s + a.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    sync()
    times.append(time.perf_counter() - t0)
out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'epochSeconds': times}
if dev.type == 'cuda':
    out['device'] = torch.cuda.get_device_name(dev)
print(json.dumps(out))
