"""The loops rnnlab is measured against, each runnable as a process of its own (main thread, fresh torch).

    python -m bench.loops bare DATA_DIR DATASET STEPS WARMUP   prints the bare loop's samples/s
    python -m bench.loops seed DATA_DIR LIMIT                   the seed tutorials' Fashion-MNIST script

`bare`: the floor for any loop: the tutorials' LSTM and Adam on uint8 tensors already in memory,
batches drawn by index, nothing else. `seed`: the seed tutorials' loop as they write it:
torchvision FashionMNIST + ToTensor, a shuffling DataLoader in the main thread, `loss.item()`
when printing, then the test accuracy; LIMIT > 0 stops after that many batches (quick mode).
"""

from __future__ import annotations

import math
import sys
import time

import torch
from torch import nn

HIDDEN, BATCH, INPUTS, CLASSES = 128, 128, 28, 10


class TutorialLSTM(nn.Module):
    """The tutorials' model: zero (h0, c0) passed explicitly, logits from the last step's output."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(INPUTS, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = torch.zeros(1, x.size(0), HIDDEN, device=x.device)  # (layers, batch, hidden)
        c0 = torch.zeros(1, x.size(0), HIDDEN, device=x.device)
        out, _ = self.lstm(x, (h0, c0))  # (batch, 28 steps, hidden)
        return self.fc(out[:, -1, :])  # (batch, classes)


def bare_speed(images: torch.Tensor, labels: torch.Tensor, warmup: int, steps: int, device: str) -> float:
    """Samples/s of the bare loop over `steps` steps after `warmup`, on a fresh model."""
    torch.manual_seed(0)
    model = TutorialLSTM().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = images.to(device), labels.to(device)
    per_pass = len(images) // BATCH  # full batches only, a new order every pass, as epochs do
    started = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            started = time.perf_counter()
        if i % per_pass == 0:
            order = torch.randperm(len(images), device=device)
        idx = order[(i % per_pass) * BATCH : (i % per_pass + 1) * BATCH]
        x = images.index_select(0, idx).float().div_(255)  # (batch, 28 rows, 28)
        loss = nn.functional.cross_entropy(model(x), labels.index_select(0, idx))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    assert math.isfinite(loss.item())
    return steps * BATCH / (time.perf_counter() - started)


def seed_loop(root: str, limit: int) -> None:
    """The seed tutorials' script, as they write it."""
    from torchvision import datasets, transforms

    train = datasets.FashionMNIST(root=root, train=True, download=False, transform=transforms.ToTensor())
    test = datasets.FashionMNIST(root=root, train=False, download=False, transform=transforms.ToTensor())
    train_loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=BATCH, shuffle=False)
    model = TutorialLSTM()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i, (images, labels) in enumerate(train_loader):
        if limit and i == limit:
            break
        images = images.reshape(-1, 28, 28)  # (batch, 1, 28, 28) -> (batch, 28 rows, 28)
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (i + 1) % 100 == 0:
            print(f"Step [{i + 1}/{len(train_loader)}], Loss: {loss.item():.4f}")
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            predicted = model(images.reshape(-1, 28, 28)).argmax(1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Test accuracy: {100 * correct / total:.2f}%")


def main(argv: list[str]) -> None:
    if argv[:1] == ["bare"]:
        from rnnlab.data import load_dataset

        data_dir, dataset, steps, warmup = argv[1], argv[2], int(argv[3]), int(argv[4])
        torch.set_flush_denormal(True)  # as rnnlab's worker does
        data = load_dataset(dataset, data_dir)
        print(bare_speed(data.train_images, data.train_labels, warmup, steps, "cpu"))
    elif argv[:1] == ["seed"]:
        seed_loop(argv[1], int(argv[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
