"""Configuration of MISA, modality-invariant and -specific representations (Hazarika et al., ACM MM 2020)."""

from typing import ClassVar

from .configuration_base import MSAConfig


class MISAConfig(MSAConfig):
    """MISA hyper-parameters (the paper's defaults: 128-d subspaces, CMD similarity with 5 moments).

    The regression loss defaults to MISA's own, the mean squared error.

    Args:
        hidden_dim: size of the projected utterances and of the shared/private subspaces.
        dropout: dropout of the prediction head.
        fusion_num_heads, fusion_num_layers: the transformer over the six subspace vectors.
        diff_weight, sim_weight, recon_weight: weights of the difference (orthogonality),
            similarity (CMD) and reconstruction losses.
        cmd_moments: central moments matched by CMD.
        text_encoder_name_or_path: an optional Hugging Face text encoder (BERT in the paper) to
            fine-tune on ``input_ids``; ``None`` reads precomputed ``text_features``.
        text_encoder_config: the encoder's config, stored on first creation so that a saved model
            rebuilds it offline (leave ``None``).
    """

    model_type = "msmix_misa"
    positive_int_fields: ClassVar[tuple[str, ...]] = (
        "hidden_dim", "fusion_num_heads", "fusion_num_layers", "cmd_moments",
    )
    probability_fields: ClassVar[tuple[str, ...]] = ("dropout",)
    non_negative_fields: ClassVar[tuple[str, ...]] = ("diff_weight", "sim_weight", "recon_weight")

    loss_type: str = "mse"
    hidden_dim: int = 128
    dropout: float | int = 0.5
    fusion_num_heads: int = 2
    fusion_num_layers: int = 1
    diff_weight: float | int = 0.3
    sim_weight: float | int = 1.0
    recon_weight: float | int = 1.0
    cmd_moments: int = 5
    text_encoder_name_or_path: str | None = None
    text_encoder_config: dict | None = None

    def check_msa_settings(self) -> None:
        """The shared checks, then: ``hidden_dim`` divisible by ``fusion_num_heads``."""
        super().check_msa_settings()
        if self.hidden_dim % self.fusion_num_heads:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by fusion_num_heads "
                             f"({self.fusion_num_heads})")
