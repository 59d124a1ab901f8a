"""The interface shared by every augmentation that mixes hidden states between encode and fuse.

A ``MixingModule`` takes the unimodal states ``(z_t, z_a, z_v)`` of B samples (each [B, d] or
[B, T, d]) and the labels [B, 1], and returns a ``MixResult``: M mixed states per modality, the
label weights that define the mixed-sample loss, and any extra loss (MS-Mix's SAL). Random draws
go through ``RandomDraws`` so that a ``torch.Generator`` seeded from the batch's ``mix_seed``
makes mixing reproducible; without a generator the global torch RNG is used.
"""

from dataclasses import dataclass

import torch
from torch import nn

States = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class MixResult:
    """What a mixing module hands back to the model.

    Attributes:
        mixed_states: the M mixed states per modality, shaped like the inputs but with M rows.
        mixed_labels: the mixed targets y~ [M, 1] (for logging and inspection).
        index1, index2: the pair indices [M] (``None`` for methods mixing more than two samples).
        label_lambda: lam_y [M], the weight of ``index1``'s label in the mixed loss.
        label_weights: [M, B] rows of convex weights over the batch, for methods that mix more
            than two samples (then the mixed loss is ``sum_k W[r, k] * l(o_r, y_k)``).
        extra_loss: an unweighted extra loss (MS-Mix's SAL), or ``None``.
        intensities: [B, 3] SIG intensities (MS-Mix only), or ``None``.
        statistics: detached scalar summaries of the mixing for logging (MS-Mix: mean ratio and
            mean intensity per modality, fraction of pairs above the SASS threshold), or ``None``.
    """

    mixed_states: States
    mixed_labels: torch.Tensor
    index1: torch.Tensor | None = None
    index2: torch.Tensor | None = None
    label_lambda: torch.Tensor | None = None
    label_weights: torch.Tensor | None = None
    extra_loss: torch.Tensor | None = None
    intensities: torch.Tensor | None = None
    statistics: dict[str, torch.Tensor] | None = None

    def mixed_loss(self, predictions: torch.Tensor, labels: torch.Tensor, loss_fn) -> torch.Tensor:
        """Mean over mixed rows of the label-weighted loss; ``loss_fn`` has ``reduction='none'``.

        Pair methods: ``mean(lam_y * l(o, y[i1]) + (1 - lam_y) * l(o, y[i2]))`` (SPEC section 4).
        """
        predictions = predictions.reshape(-1)
        labels = labels.reshape(-1)
        if predictions.numel() == 0:
            return predictions.sum()
        if self.label_weights is not None:
            per_label = loss_fn(predictions[:, None].expand(-1, labels.shape[0]), labels[None, :].expand_as(
                self.label_weights))
            return (self.label_weights * per_label).sum(dim=1).mean()
        lam = self.label_lambda
        first = loss_fn(predictions, labels[self.index1])
        second = loss_fn(predictions, labels[self.index2])
        return (lam * first + (1 - lam) * second).mean()


def broadcast_rows(weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View per-row weights [M] so that they broadcast over a state [M, ...]."""
    return weights.reshape(weights.shape[0], *([1] * (like.dim() - 1))).to(like.dtype)


def mix_pairs(states: States, index1: torch.Tensor, index2: torch.Tensor,
              lambdas: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> States:
    """``lam_m * z_m[i1] + (1 - lam_m) * z_m[i2]`` for each modality (lam_m [M], broadcast over T, d)."""
    mixed = []
    for state, lam in zip(states, lambdas):
        lam = broadcast_rows(lam, state)
        mixed.append(lam * state[index1] + (1 - lam) * state[index2])
    return tuple(mixed)


def label_distance_statistics(labels: torch.Tensor, index1: torch.Tensor, index2: torch.Tensor
                              ) -> dict[str, torch.Tensor]:
    """How far apart the mixed partners' labels are, detached for logging.

    ``pair_label_distance``: mean |y[i1] - y[i2]| over the mixed pairs; ``batch_label_distance``:
    mean |y_i - y_j| over all ordered pairs i != j of the batch, what uniformly random partners give
    on average. A partner choice that seeks similar sentiment keeps the first below the second.
    """
    labels = labels.detach().float().reshape(-1)
    size = labels.shape[0]
    pairs = (labels[index1] - labels[index2]).abs().mean() if index1.numel() else labels.new_zeros(())
    every = (labels[:, None] - labels[None, :]).abs().sum() / max(size * (size - 1), 1)
    return {"pair_label_distance": pairs, "batch_label_distance": every}


class RandomDraws:
    """Random numbers from a ``torch.Generator`` when given, else from the global torch RNG.

    With a generator, Beta and Gamma draws use a vectorised Marsaglia-Tsang sampler driven by
    the generator (torch's own gamma sampler takes no generator); without one, they use
    ``torch.distributions`` exactly as a plain torch script would.
    """

    _GAMMA_TRIES = 16

    def __init__(self, generator: torch.Generator | None, device: torch.device):
        self.generator = generator
        self.device = device

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device)

    def randperm(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator, device=self.device)

    def randint(self, low: int, high: int, *shape: int) -> torch.Tensor:
        return torch.randint(low, high, shape, generator=self.generator, device=self.device)

    def gamma(self, concentration: float, *shape: int) -> torch.Tensor:
        """Gamma(concentration, 1) samples of the given shape."""
        if self.generator is None:
            rate = torch.full(shape, float(concentration), device=self.device)
            return torch.distributions.Gamma(rate, torch.ones_like(rate), validate_args=False).sample()
        boost = concentration < 1
        shape_param = concentration + 1 if boost else concentration
        d = shape_param - 1.0 / 3.0
        c = 1.0 / (9.0 * d) ** 0.5
        tries = (self._GAMMA_TRIES, *shape)
        normal = torch.randn(*tries, generator=self.generator, device=self.device)
        uniform = torch.rand(*tries, generator=self.generator, device=self.device)
        v = (1 + c * normal).clamp_min(1e-12) ** 3
        accepted = (1 + c * normal > 0) & (uniform.clamp_min(1e-30).log() < 0.5 * normal**2 + d - d * v + d * v.log())
        first = accepted.to(torch.int8).argmax(dim=0, keepdim=True)
        sample = (d * v).gather(0, first).squeeze(0)
        if boost:
            sample = sample * self.rand(*shape).clamp_min(1e-30) ** (1.0 / concentration)
        return sample

    def beta(self, alpha: float, *shape: int) -> torch.Tensor:
        """Beta(alpha, alpha) samples of the given shape."""
        if self.generator is None:
            concentration = torch.full(shape, float(alpha), device=self.device)
            return torch.distributions.Beta(concentration, concentration, validate_args=False).sample()
        first = self.gamma(alpha, *shape)
        second = self.gamma(alpha, *shape)
        return first / (first + second).clamp_min(1e-30)

    def dirichlet(self, alpha: float, rows: int, size: int) -> torch.Tensor:
        """``rows`` draws of a symmetric Dirichlet(alpha) over ``size`` outcomes, [rows, size]."""
        gammas = self.gamma(alpha, rows, size)
        return gammas / gammas.sum(dim=1, keepdim=True).clamp_min(1e-30)


class MixingModule(nn.Module):
    """Base class: mixes the unimodal states of a batch between ``encode`` and ``fuse``.

    Subclasses implement ``forward(states, labels, draws) -> MixResult``. Modules whose mixed
    states depend on the loss gradient (AdvMixUp) set ``needs_loss_gradient = True`` and
    implement ``perturb(mixed_states, gradients)``; the model then runs one extra fuse pass.
    """

    needs_loss_gradient = False

    def __init__(self, num_mix: int | None = None):
        super().__init__()
        self.num_mix = num_mix

    @classmethod
    def from_config(cls, config, state_dims: tuple[int, int, int]) -> "MixingModule":
        """The module a config asks for; this default passes ``alpha`` and ``num_mix``."""
        return cls(alpha=config.alpha, num_mix=config.num_mix)

    def mix_count(self, batch_size: int) -> int:
        """M, the number of mixed samples for a batch of ``batch_size``."""
        return batch_size if self.num_mix is None else int(self.num_mix)

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws) -> MixResult:
        raise NotImplementedError

    def perturb(self, mixed_states: States, gradients: States) -> States:
        raise NotImplementedError(f"{type(self).__name__} does not use loss gradients")
