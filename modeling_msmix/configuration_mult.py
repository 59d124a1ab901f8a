"""Configuration of MulT, the Multimodal Transformer (Tsai et al., ACL 2019)."""

from typing import ClassVar

from .configuration_base import MSAConfig


class MulTConfig(MSAConfig):
    """MulT hyper-parameters (the paper's CMU-MOSI settings).

    Args:
        hidden_dim: d, the common size each modality is projected to.
        num_heads: attention heads of every transformer.
        num_layers: D, cross-modal blocks per direction (the self-attention memories use
            ``max(num_layers, 3)``).
        text_kernel_size, audio_kernel_size, vision_kernel_size: temporal 1-D convolution kernels.
        embed_dropout: dropout on the text input embeddings and on every transformer's input.
        attn_dropout, relu_dropout, res_dropout: dropout inside the transformer blocks.
        out_dropout: dropout of the residual output block.
    """

    model_type = "msmix_mult"
    positive_int_fields: ClassVar[tuple[str, ...]] = (
        "hidden_dim", "num_heads", "num_layers", "text_kernel_size", "audio_kernel_size", "vision_kernel_size",
    )
    probability_fields: ClassVar[tuple[str, ...]] = (
        "embed_dropout", "attn_dropout", "relu_dropout", "res_dropout", "out_dropout",
    )

    hidden_dim: int = 40
    num_heads: int = 10
    num_layers: int = 4
    text_kernel_size: int = 1
    audio_kernel_size: int = 3
    vision_kernel_size: int = 3
    embed_dropout: float | int = 0.2
    attn_dropout: float | int = 0.1
    relu_dropout: float | int = 0.1
    res_dropout: float | int = 0.1
    out_dropout: float | int = 0.1

    def check_msa_settings(self) -> None:
        """The shared checks, then: ``hidden_dim`` divisible by ``num_heads``, odd kernel sizes."""
        super().check_msa_settings()
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads})")
        for name in ("text_kernel_size", "audio_kernel_size", "vision_kernel_size"):
            if getattr(self, name) < 1 or getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be a positive odd integer, got {getattr(self, name)}")
