"""Configuration of TFN, the Tensor Fusion Network (Zadeh et al., EMNLP 2017)."""
from typing import ClassVar

from .configuration_base import MSAConfig


class TFNConfig(MSAConfig):
    """TFN hyper-parameters (paper sizes: 128-d language LSTM and embedding, 32-d audio/vision nets).

    Args:
        text_hidden_dim: hidden size of the language LSTM.
        text_out_dim: size of the language embedding z_l.
        audio_hidden_dim, vision_hidden_dim: width of the three-layer audio/vision sub-networks.
        post_fusion_dim: width of the two post-fusion ReLU layers.
        text_dropout, audio_dropout, vision_dropout, post_fusion_dropout: dropout rates.
    """

    model_type = "msmix_tfn"
    positive_int_fields: ClassVar[tuple[str, ...]] = (
        "text_hidden_dim", "text_out_dim", "audio_hidden_dim", "vision_hidden_dim", "post_fusion_dim",
    )
    probability_fields: ClassVar[tuple[str, ...]] = (
        "text_dropout", "audio_dropout", "vision_dropout", "post_fusion_dropout",
    )

    text_hidden_dim: int = 128
    text_out_dim: int = 128
    audio_hidden_dim: int = 32
    vision_hidden_dim: int = 32
    post_fusion_dim: int = 128
    text_dropout: float | int = 0.15
    audio_dropout: float | int = 0.15
    vision_dropout: float | int = 0.15
    post_fusion_dropout: float | int = 0.15
