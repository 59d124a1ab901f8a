"""Configuration of LNLN, language-dominated noise-resistant learning (Zhang et al., NeurIPS 2024)."""

from typing import Any

from .configuration_base import MSAConfig


class LNLNConfig(MSAConfig):
    """LNLN hyper-parameters; the defaults are the reference's CMU-MOSI configuration.

    The regression loss defaults to LNLN's own, the mean squared error (its weight sigma is 1 in
    every reference configuration: the task loss).

    Args:
        hidden_dim: token size of every transformer.
        num_tokens: learnable tokens each embedding transformer condenses its modality into, and
            the tokens of the proxy dominant feature.
        num_heads: attention heads; ``head_dim`` is the size of each head in every transformer
            but the hyper-modality layers, which use ``hyper_head_dim``.
        mlp_dim: width of the feed-forward networks.
        embedding_depth: layers of each modality's embedding transformer.
        dmc_depth: layers of each transformer of the dominant modality correction: the
            completeness check, the proxy dominant feature generator and the three reconstructors.
        completeness_hidden_dim: hidden width of the completeness check's regression head.
        discriminator_hidden_dim: hidden width of the effectiveness discriminator.
        hyper_depth: hyper-modality learning layers; the language encoder that guides them has
            ``hyper_depth - 1`` layers (one dominant-feature state per layer).
        fusion_depth: layers of the cross-modal fusion transformer (4 in the MOSEI and SIMS configs).
        dropout: dropout inside the transformers (the reference uses none).
        text_max_length, audio_max_length, vision_max_length: sizes of the learned position
            tables of the embedding transformers (the longest sequence each accepts).
        completeness_weight, effectiveness_weight, reconstruction_weight: the paper's alpha,
            beta, gamma: weights of the completeness MSE, the effectiveness discriminator's
            cross-entropy (beta 0.6 in the SIMS config) and the reconstruction MSE.
        missing_rate_max: training's random data missing: each modality of each sample gets a
            missing rate r ~ U(0, missing_rate_max) and loses each real step with probability r;
            ``0`` trains on the inputs as they are.
        complete_fraction: probability that a modality of a sample is left complete (r = 0)
            in training (the reference leaves exactly half of the samples of each modality complete;
            here each sample draws).
        text_encoder_name_or_path: an optional Hugging Face text encoder (BERT in the paper) to
            fine-tune on ``input_ids``; ``None`` reads precomputed ``text_features``.
        text_encoder_config: the encoder's config, stored on first creation (leave ``None``).
    """

    model_type = "msmix_lnln"

    loss_type: str = "mse"
    hidden_dim: int = 128
    num_tokens: int = 8
    num_heads: int = 8
    head_dim: int = 64
    hyper_head_dim: int = 16
    mlp_dim: int = 128
    embedding_depth: int = 2
    dmc_depth: int = 2
    completeness_hidden_dim: int = 64
    discriminator_hidden_dim: int = 64
    hyper_depth: int = 3
    fusion_depth: int = 2
    dropout: float | int = 0.0
    text_max_length: int = 50
    audio_max_length: int = 375
    vision_max_length: int = 500
    completeness_weight: float | int = 0.9
    effectiveness_weight: float | int = 0.8
    reconstruction_weight: float | int = 0.1
    missing_rate_max: float | int = 1.0
    complete_fraction: float | int = 0.5
    text_encoder_name_or_path: str | None = None
    text_encoder_config: dict | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        if self.hyper_depth < 1:
            raise ValueError(f"hyper_depth must be at least 1, got {self.hyper_depth}")
        for name in ("completeness_weight", "effectiveness_weight", "reconstruction_weight"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        for name in ("missing_rate_max", "complete_fraction"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
