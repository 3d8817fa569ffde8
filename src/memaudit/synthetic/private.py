"""DP-SGD for the built-in trainer (`memaudit train --dp-epsilon E`), through Opacus.

Opacus clips each training sequence's gradient to `MAX_GRAD_NORM`, adds Gaussian noise calibrated
by its accountant so that the whole training run is (ε, δ)-differentially private at δ = 1/n
(n training sequences), and samples batches by Poisson sampling as its analysis requires. The
guarantee is per training sequence: a record the data repeats r times is protected only at
about r·ε (group privacy), which is what `dedup` is for. Nothing here is our own DP: the noise,
the clipping, the sampling and the accounting are Opacus's.
"""

from __future__ import annotations

import warnings

import torch

from ..errors import UserInputError

MAX_GRAD_NORM = 1.0
ACCOUNTANT = "rdp"


class Sequences(torch.utils.data.Dataset):
    def __init__(self, seqs: list[list[int]]) -> None:
        self.seqs = seqs

    def __len__(self) -> int:
        return len(self.seqs)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor(self.seqs[i], dtype=torch.long)


def padded(pad: int):
    """A collate function: sequences → (ids, attention mask, labels) padded with `pad`; an empty
    Poisson batch gives empty tensors."""

    def collate(batch: list[torch.Tensor]):
        if not batch:
            empty = torch.zeros((0, 1), dtype=torch.long)
            return empty, empty, empty
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        for r, s in enumerate(batch):
            ids[r, : len(s)] = s
        mask = (ids != pad).long()
        return ids, mask, ids.masked_fill(mask == 0, -100)

    return collate


def make_private(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    seqs: list[list[int]],
    batch_size: int,
    pad: int,
    epochs: int,
    epsilon: float,
    seed: int,
):
    """(private model, private optimizer, Poisson data loader, privacy engine, δ)."""
    try:
        from opacus import PrivacyEngine
    except ImportError:
        raise UserInputError(
            "Opacus installed for --dp-epsilon", "no module opacus", "pip install 'memaudit[dp]'"
        ) from None
    # Opacus's per-sample hooks fire on the embedding output, whose input (token ids) needs no
    # gradient; torch warns about it on every backward pass
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    # Opacus's notes that its noise comes from torch's generator, not a cryptographic one (the
    # noise is seeded for reproducibility; docs/safeguards.md says so), and that its RDP orders
    # end before the optimum (the reported epsilon is then an upper bound, still valid)
    warnings.filterwarnings("ignore", message="Secure RNG turned off")
    warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        Sequences(seqs), batch_size=batch_size, collate_fn=padded(pad), generator=generator
    )
    delta = 1.0 / len(seqs)
    engine = PrivacyEngine(accountant=ACCOUNTANT)
    private_model, private_optimizer, private_loader = engine.make_private_with_epsilon(
        module=model,
        optimizer=optimizer,
        data_loader=loader,
        target_epsilon=epsilon,
        target_delta=delta,
        epochs=epochs,
        max_grad_norm=MAX_GRAD_NORM,
        noise_generator=generator,
    )
    return private_model, private_optimizer, private_loader, engine, delta


def privacy_spent(engine, delta: float, target: float) -> dict:
    """What training.json reports: the accountant's ε at δ, the target, the noise and the clip."""
    return {
        "target_epsilon": target,
        "epsilon": float(engine.get_epsilon(delta)),
        "delta": delta,
        "accountant": ACCOUNTANT,
        "max_grad_norm": MAX_GRAD_NORM,
        "noise_multiplier": float(engine.accountant.history[-1][0]) if engine.accountant.history else None,
        "guarantee": "per training sequence; a record repeated r times is protected at about r·ε",
    }
