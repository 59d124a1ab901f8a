"""Configuration of GLoMo, Global-Local Modal fusion with mixtures of experts (Zhuang et al., 2025)."""

from typing import ClassVar

from .configuration_base import MSAConfig


class GLoMoConfig(MSAConfig):
    """GLoMo hyper-parameters (the reference's MOSI settings: 96-d vectors, 3 granules, 3 experts, top-2).

    Args:
        hidden_dim: size d_l of every coarse (global) and fine (local) vector.
        text_granularity, audio_granularity, vision_granularity: local segments each sequence
            is max-pooled into before its mixture of experts.
        text_experts, audio_experts, vision_experts: experts per modality-specific MoE.
        top_k: experts each sample is routed to (noisy top-k gating).
        moe_loss_weight: weight of the load-balance loss, ``CV^2(importance) + CV^2(load)``.
        num_heads: heads of the audio/vision transformers and of the fusion transformer.
        num_layers: layers of the audio/vision transformers.
        fusion_num_layers: layers of the transformer over the six global/local vectors.
        attn_dropout, relu_dropout, res_dropout, embed_dropout: audio/vision transformer dropouts.
        gate_dropout: dropout of the global-guided attention gates.
    """

    model_type = "msmix_glomo"
    positive_int_fields: ClassVar[tuple[str, ...]] = (
        "hidden_dim", "text_granularity", "audio_granularity", "vision_granularity", "text_experts", "audio_experts",
        "vision_experts", "top_k", "num_heads", "num_layers", "fusion_num_layers",
    )
    probability_fields: ClassVar[tuple[str, ...]] = (
        "attn_dropout", "relu_dropout", "res_dropout", "embed_dropout", "gate_dropout",
    )
    non_negative_fields: ClassVar[tuple[str, ...]] = ("moe_loss_weight",)

    hidden_dim: int = 96
    text_granularity: int = 3
    audio_granularity: int = 3
    vision_granularity: int = 3
    text_experts: int = 3
    audio_experts: int = 3
    vision_experts: int = 3
    top_k: int = 2
    moe_loss_weight: float | int = 0.01
    num_heads: int = 16
    num_layers: int = 2
    fusion_num_layers: int = 2
    attn_dropout: float | int = 0.5
    relu_dropout: float | int = 0.3
    res_dropout: float | int = 0.3
    embed_dropout: float | int = 0.2
    gate_dropout: float | int = 0.3

    def check_msa_settings(self) -> None:
        """The shared checks, then: ``hidden_dim`` divisible by ``num_heads``, ``top_k`` within each expert count."""
        super().check_msa_settings()
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads})")
        for modality in ("text", "audio", "vision"):
            experts = getattr(self, f"{modality}_experts")
            if not 1 <= self.top_k <= experts:
                raise ValueError(f"top_k ({self.top_k}) must lie between 1 and {modality}_experts ({experts})")
