"""Configuration of LNLN, language-dominated noise-resistant learning (Zhang et al., NeurIPS 2024)."""

from typing import Any

from .configuration_almt import ALMTConfig


class LNLNConfig(ALMTConfig):
    """LNLN hyper-parameters; the defaults are the reference's CMU-MOSI configuration.

    LNLN builds on ALMT: the token size, tokens, heads, feed-forward width, embedding depth (2 here),
    hyper-modality and fusion depths, dropout, position-table sizes (audio 375 here) and the optional
    text encoder are ``ALMTConfig``'s fields (see there); the regression loss is LNLN's own, the mean
    squared error (its weight sigma is 1 in every reference configuration: the task loss). The
    fusion depth is 4 in the reference's MOSEI and SIMS configurations. Its own fields:

    Args:
        dmc_depth: layers of each transformer of the dominant modality correction: the
            completeness check, the proxy dominant feature generator and the three reconstructors.
        completeness_hidden_dim: hidden width of the completeness check's regression head.
        discriminator_hidden_dim: hidden width of the effectiveness discriminator.
        completeness_weight, effectiveness_weight, reconstruction_weight: the paper's alpha,
            beta, gamma: weights of the completeness MSE, the effectiveness discriminator's
            cross-entropy (beta 0.6 in the SIMS config) and the reconstruction MSE.
        missing_rate_max: training's random data missing: each modality of each sample gets a
            missing rate r ~ U(0, missing_rate_max) and loses each real step with probability r;
            ``0`` trains on the inputs as they are.
        complete_fraction: probability that a modality of a sample is left complete (r = 0)
            in training (the reference leaves exactly half of the samples of each modality complete;
            here each sample draws).
    """

    model_type = "msmix_lnln"

    embedding_depth: int = 2
    audio_max_length: int = 375
    dmc_depth: int = 2
    completeness_hidden_dim: int = 64
    discriminator_hidden_dim: int = 64
    completeness_weight: float | int = 0.9
    effectiveness_weight: float | int = 0.8
    reconstruction_weight: float | int = 0.1
    missing_rate_max: float | int = 1.0
    complete_fraction: float | int = 0.5

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        for name in ("completeness_weight", "effectiveness_weight", "reconstruction_weight"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        for name in ("missing_rate_max", "complete_fraction"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
