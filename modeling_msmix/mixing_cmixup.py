"""C-Mixup (Yao et al., NeurIPS 2022, "C-Mixup: Improving Generalization in Regression").

Mixup for regression: instead of a uniform random partner, each sample i draws its partner j with
probability from a Gaussian kernel on the label distance,

    P(j | i) = exp(-(y_i - y_j)^2 / (2 h^2)) / sum_{k != i} exp(-(y_i - y_k)^2 / (2 h^2)),  j != i,

so that samples are mostly mixed with samples of similar label and the mixed label stays close to
what the mixed input carries. h is ``cmixup_bandwidth`` in the config.

Default bandwidth: the paper tunes h per data set rather than recommending one value; the
authors' released scripts use 0.05 to 10 depending on the label scale (1.0 for SkillCraft, 1.2 for
NO2, 1.75 for Airfoil). The default here is h = 1.0, one sentiment unit on MOSI's [-3, 3] scale
(on CH-SIMS's [-1, 1] it is close to uniform partners); tune it on validation data for a study.

As in this project's other baselines, and unlike the authors' code: the partner is drawn from the
same batch (the states mixed are the batch's hidden states between encode and fuse, not the
inputs), never the sample itself, with index1 cycling over the batch as vanilla Mixup's. One
lam ~ Beta(alpha, alpha) per batch is shared by the pairs, the modalities and the label, as in the
authors' code and in this project's vanilla Mixup, so that ``cmixup`` and ``mixup`` differ only in
how the partner is chosen. Draws go through ``RandomDraws`` (reproducible from the batch's ``mix_seed``).
"""

import torch

from .mixing_base import MixResult, RandomDraws, States, label_distance_statistics
from .mixing_baselines import VanillaMixup, pair_result

DEFAULT_BANDWIDTH = 1.0


def check_bandwidth(bandwidth: float) -> None:
    """Raise ``ValueError`` naming ``cmixup_bandwidth`` unless it is a positive number."""
    if isinstance(bandwidth, bool) or not isinstance(bandwidth, (int, float)) or not bandwidth > 0:
        raise ValueError(f"cmixup_bandwidth must be a number > 0, got {bandwidth!r}")


def partner_probabilities(labels: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """P [B, B]: row i is the distribution of i's partner, ∝ exp(-(y_i - y_j)^2 / (2 h^2)), 0 on the diagonal.

    Computed as a softmax of the log-kernel in float64, so that a row never underflows to all
    zeros however far apart the labels are (its nearest other label keeps the mass). Needs B >= 2.
    """
    labels = labels.detach().reshape(-1).double()
    size = labels.shape[0]
    if size < 2:
        raise ValueError(f"C-Mixup needs at least 2 samples to draw partners from, got a batch of {size}")
    log_kernel = -((labels[:, None] - labels[None, :]) ** 2) / (2 * float(bandwidth) ** 2)
    log_kernel = log_kernel.masked_fill(torch.eye(size, dtype=torch.bool, device=labels.device), float("-inf"))
    return torch.softmax(log_kernel, dim=1)


def draw_partners(probabilities: torch.Tensor, index1: torch.Tensor, draws: RandomDraws) -> torch.Tensor:
    """index2 [M]: one draw from row ``index1[r]`` of ``probabilities`` per pair (inverse CDF of a uniform).

    The row's cumulative sums are divided by their last value, so the CDF ends at exactly 1 and a
    uniform u in [0, 1) always finds a j with P[i, j] > 0 (the first j whose CDF exceeds u).
    """
    cumulative = probabilities[index1].cumsum(dim=1)
    cumulative = cumulative / cumulative[:, -1:]
    uniform = draws.rand(index1.shape[0]).to(cumulative.dtype)
    return torch.searchsorted(cumulative, uniform[:, None], right=True).squeeze(1)


class CMixup(VanillaMixup):
    """C-Mixup between encode and fuse: partners drawn by label similarity (see the module docstring)."""

    def __init__(self, alpha: float = 2.0, num_mix: int | None = None, bandwidth: float = DEFAULT_BANDWIDTH):
        super().__init__(alpha, num_mix)
        check_bandwidth(bandwidth)
        self.bandwidth = float(bandwidth)

    @classmethod
    def from_config(cls, config, state_dims: tuple[int, int, int]) -> "CMixup":
        """``alpha``, ``num_mix`` and ``cmixup_bandwidth`` from the config."""
        return cls(alpha=config.alpha, num_mix=config.num_mix, bandwidth=config.cmixup_bandwidth)

    def forward(self, states: States, labels: torch.Tensor, draws: RandomDraws) -> MixResult:
        batch_size = labels.reshape(-1).shape[0]
        index1 = torch.arange(self.mix_count(batch_size), device=draws.device) % batch_size
        index2 = draw_partners(partner_probabilities(labels, self.bandwidth), index1, draws)
        lam = self.draw_lambda(index1.shape[0], draws)
        result = pair_result(states, labels, index1, index2, (lam, lam, lam))
        result.statistics = label_distance_statistics(labels, index1, index2)
        return result
