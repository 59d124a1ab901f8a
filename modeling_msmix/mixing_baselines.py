"""The mixup baselines of the MS-Mix paper, adapted to mix hidden states between encode and fuse.

Each one is a ``MixingModule`` returning a ``MixResult`` like MS-Mix, so one config flag
switches between them. Pair methods draw a random partner that is never the sample itself.
"""

import torch

from .mixing_base import MixingModule, MixResult, RandomDraws, States, broadcast_rows, mix_pairs


def random_pairs(batch_size: int, count: int, draws: RandomDraws) -> tuple[torch.Tensor, torch.Tensor]:
    """index1 = 0..M-1 cycling over the batch; index2 a uniform random other sample."""
    index1 = torch.arange(count, device=draws.device) % batch_size
    index2 = (index1 + draws.randint(1, batch_size, count)) % batch_size
    return index1, index2


def pair_result(states: States, labels: torch.Tensor, index1: torch.Tensor, index2: torch.Tensor,
                lambdas: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> MixResult:
    """Mix each modality with its own ratio; the label ratio is their mean."""
    labels = labels.reshape(-1, 1)
    label_lambda = sum(lambdas) / 3
    weight = broadcast_rows(label_lambda, labels)
    return MixResult(
        mixed_states=mix_pairs(states, index1, index2, lambdas),
        mixed_labels=weight * labels[index1] + (1 - weight) * labels[index2],
        index1=index1,
        index2=index2,
        label_lambda=label_lambda,
    )


class VanillaMixup(MixingModule):
    """Mixup (Zhang et al., 2018): convex combinations of two samples and of their labels.

    Here the unimodal states of a sample and a random partner are mixed with ONE
    lam ~ Beta(alpha, alpha) drawn per batch and shared by all modalities and the label.
    """

    def __init__(self, alpha: float = 2.0, num_mix: int | None = None):
        super().__init__(num_mix)
        self.alpha = float(alpha)

    def draw_lambda(self, pairs: int, draws: RandomDraws) -> torch.Tensor:
        """lam [pairs]: one Beta draw shared by every pair."""
        return draws.beta(self.alpha, 1).expand(pairs)

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws) -> MixResult:
        batch_size = labels.reshape(-1).shape[0]
        index1, index2 = random_pairs(batch_size, self.mix_count(batch_size), draws)
        lam = self.draw_lambda(index1.shape[0], draws)
        return pair_result(states, labels, index1, index2, (lam, lam, lam))


class ManifoldMixup(VanillaMixup):
    """Manifold Mixup (Verma et al., 2019): mixup of hidden representations, not inputs.

    Between encode and fuse the mixed layer is the fusion input; each mixed pair draws its own
    lam ~ Beta(alpha, alpha), shared by the modalities and the label.
    """

    def draw_lambda(self, pairs: int, draws: RandomDraws) -> torch.Tensor:
        """lam [pairs]: one Beta draw per pair."""
        return draws.beta(self.alpha, pairs)


class MultiMix(MixingModule):
    """MultiMix (Venkataramanan et al., 2023): interpolate the whole batch, beyond pairs.

    Each of the M mixed samples is a convex combination of ALL B samples with weights drawn
    from a symmetric Dirichlet(alpha); the states of every modality and the labels share them.
    """

    def __init__(self, alpha: float = 1.0, num_mix: int | None = None):
        super().__init__(num_mix)
        self.alpha = float(alpha)

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws) -> MixResult:
        labels = labels.reshape(-1, 1)
        batch_size = labels.shape[0]
        weights = draws.dirichlet(self.alpha, self.mix_count(batch_size), batch_size)
        mixed = tuple(
            (weights.to(state.dtype) @ state.reshape(batch_size, -1)).reshape(-1, *state.shape[1:])
            for state in states
        )
        return MixResult(mixed_states=mixed, mixed_labels=weights.to(labels.dtype) @ labels, label_weights=weights)


class PowMix(MixingModule):
    """PowMix (Georgiou et al., 2023): anisotropic, per-modality mixing with cross-modal labels.

    Each pair draws an independent lam_m ~ Beta(alpha, alpha) for every modality (anisotropic
    mixing), and the label is mixed with the mean of the three ratios (cross-modal label mixing).
    """

    def __init__(self, alpha: float = 2.0, num_mix: int | None = None):
        super().__init__(num_mix)
        self.alpha = float(alpha)

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws) -> MixResult:
        batch_size = labels.reshape(-1).shape[0]
        index1, index2 = random_pairs(batch_size, self.mix_count(batch_size), draws)
        lambdas = draws.beta(self.alpha, 3, index1.shape[0]).unbind(dim=0)
        return pair_result(states, labels, index1, index2, tuple(lambdas))


class AdvMixup(MixingModule):
    """AdvMixUp: mixup followed by an adversarial step on the mixed samples.

    Pairs and per-pair lam ~ Beta(alpha, alpha) as in Manifold Mixup; the mixed states then
    move one normalised gradient-ascent step of the mixed loss (size ``epsilon`` times each
    row's RMS), so the model trains on the hardest nearby interpolation.
    """

    needs_loss_gradient = True

    def __init__(self, alpha: float = 2.0, num_mix: int | None = None, epsilon: float = 0.1):
        super().__init__(num_mix)
        self.alpha = float(alpha)
        self.epsilon = float(epsilon)

    @classmethod
    def from_config(cls, config, state_dims: tuple[int, int, int]) -> "AdvMixup":
        """``alpha``, ``num_mix`` and ``advmixup_epsilon`` from the config."""
        return cls(alpha=config.alpha, num_mix=config.num_mix, epsilon=config.advmixup_epsilon)

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws) -> MixResult:
        batch_size = labels.reshape(-1).shape[0]
        index1, index2 = random_pairs(batch_size, self.mix_count(batch_size), draws)
        lam = draws.beta(self.alpha, index1.shape[0])
        return pair_result(states, labels, index1, index2, (lam, lam, lam))

    def perturb(self, mixed_states: States, gradients: States) -> States:
        perturbed = []
        for state, gradient in zip(mixed_states, gradients):
            rows = state.shape[0]
            scale = state.detach().reshape(rows, -1).pow(2).mean(dim=1).sqrt()
            norm = gradient.reshape(rows, -1).pow(2).mean(dim=1).sqrt().clamp_min(1e-12)
            step = gradient / broadcast_rows(norm, gradient) * broadcast_rows(self.epsilon * scale, gradient)
            perturbed.append(state + step.detach())
        return tuple(perturbed)
