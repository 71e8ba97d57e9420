"""PyTorch CPU reference for `npm run bench` (test/bench/backends.ts): one YOLOv5 training
step's forward + backward, timed on the shapes our benchmark uses.

Our own minimal network built from the model YAML we ship (packages/yolo/models/*.yaml):
Conv(Conv2d+BatchNorm2d+SiLU), C3, SPPF, nearest Upsample, Concat, and the Detect 1x1 convs,
in train mode. The loss is a stand-in (mean of sigmoid(output)^2 per level): ComputeLoss's
cost is small next to the network's, so this times the same convolutions and BN/SiLU work.

Usage: python3 torch_train_step.py MODEL_YAML IMGSZ BATCH THREADS REPS  ->  one JSON line
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import yaml


def divisible(x, d=8):
    return math.ceil(x / d) * d


class Conv(nn.Module):
    def __init__(self, c1, c2, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True):
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c2, 1), Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True):
        super().__init__()
        c_ = c2 // 2
        self.cv1, self.cv2, self.cv3 = Conv(c1, c_), Conv(c1, c_), Conv(2 * c_, c2)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1, self.cv2 = Conv(c1, c_), Conv(c_ * 4, c2)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Concat(nn.Module):
    def forward(self, xs):
        return torch.cat(xs, 1)


class Network(nn.Module):
    def __init__(self, cfg, nc=80):
        super().__init__()
        gd, gw = cfg['depth_multiple'], cfg['width_multiple']
        na = len(cfg['anchors'][0]) // 2
        self.layers, self.sources, ch = nn.ModuleList(), [], []  # ch: output channels per layer
        for f, n, name, args in cfg['backbone'] + cfg['head']:
            c1 = 3 if not ch else (ch[f] if isinstance(f, int) else None)
            n = max(round(n * gd), 1) if n > 1 else n
            if name in ('Conv', 'SPPF'):
                c2 = divisible(args[0] * gw)
                layer = {'Conv': Conv, 'SPPF': SPPF}[name](c1, c2, *args[1:])
            elif name == 'C3':
                c2 = divisible(args[0] * gw)
                layer = C3(c1, c2, n, *args[1:])
            elif name == 'nn.Upsample':
                layer, c2 = nn.Upsample(scale_factor=2, mode='nearest'), c1
            elif name == 'Concat':
                layer, c2 = Concat(), sum(ch[i] for i in f)
            elif name == 'Detect':
                layer, c2 = nn.ModuleList(nn.Conv2d(ch[i], na * (nc + 5), 1) for i in f), 0
            else:
                raise ValueError(f'unknown module {name}')
            self.layers.append(layer)
            self.sources.append(f)
            ch.append(c2)

    def forward(self, x):
        outputs = []
        for layer, f in zip(self.layers, self.sources):
            if isinstance(layer, nn.ModuleList):
                return [conv(outputs[i]) for conv, i in zip(layer, f)]
            inp = [outputs[i] for i in f] if isinstance(f, list) else (x if f == -1 else outputs[f])
            x = layer(inp)
            outputs.append(x)


def main():
    cfg_path, imgsz, batch, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with open(cfg_path) as f:
        model = Network(yaml.safe_load(f)).train()
    x = torch.rand(batch, 3, imgsz, imgsz)
    parameters = sum(p.numel() for p in model.parameters())
    times = []
    for _ in range(reps + 1):  # the first step warms up allocators and kernels
        model.zero_grad(set_to_none=True)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        loss = sum(torch.sigmoid(o).pow(2).mean() for o in model(x))
        loss.backward()
        times.append(((time.perf_counter() - wall0) * 1e3, (time.process_time() - cpu0) * 1e3))
    steady = sorted(times[1:])
    wall, cpu = steady[len(steady) // 2]
    print(json.dumps({'torch': torch.__version__, 'parameters': parameters, 'threads': threads, 'wallMs': wall, 'cpuMs': cpu}))


if __name__ == '__main__':
    main()
