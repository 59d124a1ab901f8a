"""Configuration of DashFusion, dual-stream alignment with hierarchical bottleneck fusion (Wen et al., TNNLS 2025)."""

from typing import Any

from .configuration_base import MSAConfig


class DashFusionConfig(MSAConfig):
    """DashFusion hyper-parameters (the reference's MOSI/CH-SIMS settings; MOSEI: 4 encoder layers, fusion depth 3).

    The regression loss defaults to DashFusion's own, the mean squared error.

    Args:
        hidden_dim: d_model, the token size of every encoder, alignment and fusion layer.
        num_heads: attention heads everywhere.
        encoder_layers: post-norm transformer layers of the audio and of the vision encoder.
        feedforward_dim: width of the feed-forward networks of the encoders and of the fusion.
        alignment_head_dim: size of each head of the temporal alignment (cross-modal attention).
        fusion_depth: levels of the hierarchical bottleneck fusion.
        num_bottleneck_tokens: bottleneck tokens of the first fusion level; each level halves them
            (at least one).
        embedding_dropout: dropout of the audio/vision inputs after their positions are added.
        encoder_dropout: dropout inside the audio/vision transformer layers.
        fusion_dropout: dropout of the temporal alignment's output and of the fusion's feed-forward nets.
        audio_max_length, vision_max_length: sizes of the learned position tables of the audio and
            vision encoders (the longest sequence each accepts; one more position for the CLS token).
        contrastive_temperature: temperature tau of both contrastive losses (cosine similarities).
        semantic_alignment_weight: weight of the semantic alignment loss (text against the same
            sample's audio and vision; the negatives are texts of other-class samples).
        supervised_contrastive_weight: weight of the supervised contrastive loss (each of text,
            audio, vision and the aligned text token against same-class samples of the batch).
            The defaults are the reference's effective weights: it puts 0.2 on one mean over 22
            anchor-positive pairs per sample, of which 2 are semantic alignment pairs, 8
            supervised pairs and 12 pairs without negatives that add nothing, hence
            0.2 * 2 / 22 and 0.2 * 8 / 22 on the means of the two kinds.
        text_encoder_name_or_path: an optional Hugging Face text encoder (BERT in the paper) to
            fine-tune on ``input_ids``; ``None`` reads precomputed ``text_features``.
        text_encoder_config: the encoder's config, stored on first creation (leave ``None``).
    """

    model_type = "msmix_dashfusion"

    loss_type: str = "mse"
    hidden_dim: int = 128
    num_heads: int = 8
    encoder_layers: int = 2
    feedforward_dim: int = 256
    alignment_head_dim: int = 32
    fusion_depth: int = 2
    num_bottleneck_tokens: int = 8
    embedding_dropout: float | int = 0.1
    encoder_dropout: float | int = 0.5
    fusion_dropout: float | int = 0.0
    audio_max_length: int = 500
    vision_max_length: int = 500
    contrastive_temperature: float | int = 0.5
    semantic_alignment_weight: float | int = 0.2 * 2 / 22
    supervised_contrastive_weight: float | int = 0.2 * 8 / 22
    text_encoder_name_or_path: str | None = None
    text_encoder_config: dict | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads})")
        for name in ("encoder_layers", "fusion_depth", "num_bottleneck_tokens", "audio_max_length",
                     "vision_max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not float(self.contrastive_temperature) > 0:
            raise ValueError(f"contrastive_temperature must be positive, got {self.contrastive_temperature!r}")
        for name in ("semantic_alignment_weight", "supervised_contrastive_weight"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
