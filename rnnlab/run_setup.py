"""What a run builds before its loop: seeded model, optimizer, training subset and data order."""

from __future__ import annotations

import threading

import torch

from rnnlab.config import RunConfig
from rnnlab.models import SequenceClassifier

# Module construction draws from torch's global RNG; runs in other threads must not interleave with it.
_INIT_LOCK = threading.Lock()


def build_model(config: RunConfig, num_classes: int) -> SequenceClassifier:
    """Same seed, same initial weights, whatever other runs are doing in other threads."""
    with _INIT_LOCK:
        torch.manual_seed(config.seed)
        return SequenceClassifier.from_config(config, num_classes)


def model_from_weights(
    config: RunConfig, weights: dict[str, torch.Tensor], num_classes: int
) -> SequenceClassifier:
    """Rebuild a trained model around saved weights without initialising (or seeding) anything.

    Built on the meta device and filled by assignment, so a large model costs no random init and
    the global RNG of a training thread is left alone. Raises RuntimeError when shapes disagree.
    """
    with torch.device("meta"):
        model = SequenceClassifier.from_config(config, num_classes)
    model.load_state_dict(weights, assign=True)
    return model.eval()


def make_optimizer(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params, lr, wd = model.parameters(), config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if config.optimizer == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)


def epoch_order(n: int, config: RunConfig, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch `epoch`: a function of seed and epoch only, so a continued run
    sees exactly the batches an unbroken one would have."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 1_000_003 + epoch))


def training_subset(
    images: torch.Tensor, labels: torch.Tensor, config: RunConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random subset of `train_subset` images (all when 0), chosen by the seed alone."""
    if not config.train_subset or config.train_subset >= len(images):
        return images, labels
    generator = torch.Generator().manual_seed(config.seed)
    keep = torch.randperm(len(images), generator=generator)[: config.train_subset].to(images.device)
    return images[keep], labels[keep]
