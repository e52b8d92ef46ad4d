"""The reference loop the papers' NB201 code runs, rebuilt minimally for timing only (issue 9).

AutoDL-Projects' random-sampling search model (`TinyNetworkRANDOM` / `SearchCell.forward_dynamic`, used by
DYNAS, GM-NAS-RSPS and Few-Shot NAS, docs/methods.md#shared-substrate, #spos): every edge holds a ModuleList
of all five ops and the
forward pass calls the chosen op on every edge, `none` included (a `x.mul(0.)` Zero op), in NCHW; images
are augmented one at a time (torchvision-style RandomCrop(32, 4) + flip + ToTensor + Normalize run per
sample by the DataLoader); scoring resets BN and recalibrates per architecture like the harness.
Nothing here is used by the harness; it exists so `tox -e bench` can report harness/reference ratios.
"""

from __future__ import annotations

import random

import torch
import torch.nn as nn
import torch.nn.functional as F

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGE_KEYS = ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c, kernel, padding):
        conv = nn.Conv2d(c, c, kernel, padding=padding, bias=False)
        super().__init__(nn.ReLU(inplace=False), conv, nn.BatchNorm2d(c, affine=False))


def make_op(name: str, c: int) -> nn.Module:
    return {
        "none": lambda: Zero(),
        "skip_connect": lambda: nn.Identity(),
        "nor_conv_1x1": lambda: ReLUConvBN(c, 1, 0),
        "nor_conv_3x3": lambda: ReLUConvBN(c, 3, 1),
        "avg_pool_3x3": lambda: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
    }[name]()


class SearchCell(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.edges = nn.ModuleDict({k: nn.ModuleList([make_op(o, c) for o in OPS]) for k in EDGE_KEYS})

    def forward(self, x, arch):
        nodes = [x]
        for i in range(1, 4):
            nodes.append(sum(self.edges[f"{i}<-{j}"][arch[EDGE_KEYS.index(f"{i}<-{j}")]](nodes[j]) for j in range(i)))
        return nodes[-1]


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out))
        self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.down = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.down(x) + self.b(self.a(x))


class TinyNetworkRandom(nn.Module):
    def __init__(self, C: int = 16, N: int = 1, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        for stage, c in enumerate((C, 2 * C, 4 * C)):
            layers += [SearchCell(c) for _ in range(N)]
            if stage < 2:
                layers.append(BasicBlock(c, 2 * c))
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU())
        self.classifier = nn.Linear(4 * C, num_classes)

    def forward(self, x, arch):
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x, arch) if isinstance(cell, SearchCell) else cell(x)
        return self.classifier(self.lastact(x).mean(dim=(2, 3)))


MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1)


def per_sample_batch(images: torch.Tensor, labels: torch.Tensor, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """What a DataLoader with per-image transforms hands the loop: one crop/flip/normalise per image."""
    out = []
    for img in images:
        x = img.float().div(255.0)
        if augment:
            x = F.pad(x, (4, 4, 4, 4))
            i, j = random.randint(0, 8), random.randint(0, 8)
            x = x[:, i : i + 32, j : j + 32]
            if random.random() < 0.5:
                x = x.flip(2)
        out.append((x - MEAN) / STD)
    return torch.stack(out), labels


class ReferenceSPOS:
    """The AutoDL/DYNAS SPOS step: uniform arch, forward, CE, backward, clip 5, SGD nesterov."""

    def __init__(
        self, C: int = 16, N: int = 1, lr: float = 0.025, seed: int = 0, sample_arch=None, device: str = "cpu"
    ):
        """`sample_arch`: a callable giving the next path; by default uniform from `random` (the AutoDL loop).
        A timing comparison passes the harness's sequence: path cost varies ~5x with its ops. `device`: where the
        network trains; batches are prepared per image on the CPU and copied there, as a DataLoader feeds a GPU."""
        self.device = torch.device(device)
        torch.manual_seed(seed)
        random.seed(seed)
        self.sample_arch = sample_arch or (lambda: tuple(random.randrange(len(OPS)) for _ in EDGE_KEYS))
        self.net = TinyNetworkRandom(C, N).to(self.device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> int:
        x, y = per_sample_batch(images, labels, augment=True)
        x, y = x.to(self.device), y.to(self.device)
        arch = self.sample_arch()
        self.net.train()
        self.opt.zero_grad()
        F.cross_entropy(self.net(x, arch), y).backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
        self.opt.step()
        return 1

    @torch.no_grad()
    def score(self, arch, eval_set, recal_set) -> float:
        """Reset BN, recalibrate on `recal_set`, accuracy on `eval_set` (lists of uint8 batches)."""
        bns = [m for m in self.net.modules() if isinstance(m, nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        self.net.train()
        for images, labels in recal_set:
            self.net(per_sample_batch(images, labels, augment=False)[0].to(self.device), arch)
        self.net.eval()
        correct = n = 0
        for images, labels in eval_set:
            x, y = per_sample_batch(images, labels, augment=False)
            x, y = x.to(self.device), y.to(self.device)
            correct += (self.net(x, arch).argmax(1) == y).sum().item()
            n += len(y)
        return 100.0 * correct / n
