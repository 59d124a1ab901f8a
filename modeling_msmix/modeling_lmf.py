"""LMF, Low-rank Multimodal Fusion (Liu et al., ACL 2018), split at its fusion point.

encode: TFN's sub-networks (language LSTM; audio/vision nets on masked time averages).
fuse: the fusion tensor's weight is decomposed into r modality-specific factors, so
``h = sum_r w_r * prod_m ([z_m; 1] W_m^(r)) + b`` without forming the outer product.
"""

import torch
from torch import nn

from .configuration_lmf import LMFConfig
from .layers import SubNetworks
from .modeling_base import MSAPreTrainedModel
from .modeling_tfn import append_one


class LowRankFusion(nn.Module):
    """Rank-r modality-specific factors [r, d_m + 1, out], rank weights [1, r] and a bias [1, out]."""

    def __init__(self, dims: tuple[int, int, int], rank: int, output_dim: int = 1):
        super().__init__()
        self.factors = nn.ParameterList(nn.Parameter(torch.empty(rank, dim + 1, output_dim)) for dim in dims)
        self.rank_weights = nn.Parameter(torch.empty(1, rank))
        self.bias = nn.Parameter(torch.empty(1, output_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """LMF's initialisation: Xavier-normal factors and rank weights, zero bias."""
        for factor in self.factors:
            nn.init.xavier_normal_(factor)
        nn.init.xavier_normal_(self.rank_weights)
        nn.init.zeros_(self.bias)

    def forward(self, z_t: torch.Tensor, z_a: torch.Tensor, z_v: torch.Tensor) -> torch.Tensor:
        product = None
        for z, factor in zip((z_t, z_a, z_v), self.factors):
            projected = torch.matmul(append_one(z), factor)
            product = projected if product is None else product * projected
        return torch.einsum("r,rno->no", self.rank_weights[0], product) + self.bias


class LMFModel(MSAPreTrainedModel):
    """LMF for sentiment regression; mixing acts on the sub-network outputs (the fusion inputs)."""

    config_class = LMFConfig

    def __init__(self, config: LMFConfig):
        super().__init__(config)
        self.subnets = SubNetworks(config)
        self.fusion = LowRankFusion(self.subnets.output_dims, config.rank)
        self.setup_augmentation(self.subnets.output_dims)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, LowRankFusion):
            module.reset_parameters()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """Sub-network outputs z_t [B, text_out_dim], z_a [B, audio_hidden_dim], z_v [B, vision_hidden_dim]."""
        return self.subnets(text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask)

    def fuse(self, z_t, z_a, z_v):
        """Low-rank fusion -> (prediction [N, 1], no auxiliary loss)."""
        return self.fusion(z_t, z_a, z_v), None
