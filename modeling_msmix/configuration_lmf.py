"""Configuration of LMF, Low-rank Multimodal Fusion (Liu et al., ACL 2018)."""
from typing import ClassVar

from .configuration_base import MSAConfig


class LMFConfig(MSAConfig):
    """LMF hyper-parameters: TFN's sub-networks and rank-4 modality-specific factors.

    Args:
        text_hidden_dim: hidden size of the language LSTM.
        text_out_dim: size of the language representation.
        audio_hidden_dim, vision_hidden_dim: width of the audio/vision sub-networks.
        rank: rank r of the low-rank decomposition of the fusion tensor.
        text_dropout, audio_dropout, vision_dropout: dropout rates of the sub-networks.
    """

    model_type = "msmix_lmf"
    positive_int_fields: ClassVar[tuple[str, ...]] = (
        "text_hidden_dim", "text_out_dim", "audio_hidden_dim", "vision_hidden_dim", "rank",
    )
    probability_fields: ClassVar[tuple[str, ...]] = ("text_dropout", "audio_dropout", "vision_dropout")

    text_hidden_dim: int = 128
    text_out_dim: int = 128
    audio_hidden_dim: int = 32
    vision_hidden_dim: int = 32
    rank: int = 4
    text_dropout: float | int = 0.15
    audio_dropout: float | int = 0.15
    vision_dropout: float | int = 0.15
