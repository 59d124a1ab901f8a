"""Configuration of ALMT, the Adaptive Language-guided Multimodal Transformer (Zhang et al., EMNLP 2023)."""

from typing import ClassVar

from .configuration_base import MSAConfig


class ALMTConfig(MSAConfig):
    """ALMT hyper-parameters (the paper's: 8 tokens of 128-d per modality, 3 AHL layers).

    The regression loss defaults to ALMT's own, the mean squared error.

    Args:
        hidden_dim: token size of every transformer.
        num_tokens: learnable tokens each embedding transformer condenses its modality into.
        num_heads: attention heads; ``head_dim`` is the size of each head in the embedding,
            language and fusion transformers, ``hyper_head_dim`` in the hyper-modality layers.
        mlp_dim: width of the feed-forward networks.
        embedding_depth: layers of each modality's embedding transformer.
        hyper_depth: adaptive hyper-modality learning layers; the language encoder that guides
            them has ``hyper_depth - 1`` layers (one language state per AHL layer).
        fusion_depth: layers of the cross-modal fusion transformer.
        dropout: dropout inside the transformers (the paper uses none).
        text_max_length, audio_max_length, vision_max_length: sizes of the learned position
            tables of the embedding transformers (the longest sequence each accepts).
        text_encoder_name_or_path: an optional Hugging Face text encoder (BERT in the paper) to
            fine-tune on ``input_ids``; ``None`` reads precomputed ``text_features``.
        text_encoder_config: the encoder's config, stored on first creation (leave ``None``).
    """

    model_type = "msmix_almt"
    positive_int_fields: ClassVar[tuple[str, ...]] = (
        "hidden_dim", "num_tokens", "num_heads", "head_dim", "hyper_head_dim", "mlp_dim", "embedding_depth",
        "hyper_depth", "fusion_depth", "text_max_length", "audio_max_length", "vision_max_length",
    )
    probability_fields: ClassVar[tuple[str, ...]] = ("dropout",)

    loss_type: str = "mse"
    hidden_dim: int = 128
    num_tokens: int = 8
    num_heads: int = 8
    head_dim: int = 64
    hyper_head_dim: int = 16
    mlp_dim: int = 128
    embedding_depth: int = 1
    hyper_depth: int = 3
    fusion_depth: int = 2
    dropout: float | int = 0.0
    text_max_length: int = 50
    audio_max_length: int = 500
    vision_max_length: int = 500
    text_encoder_name_or_path: str | None = None
    text_encoder_config: dict | None = None
