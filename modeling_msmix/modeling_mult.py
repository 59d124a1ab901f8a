"""MulT, the Multimodal Transformer (Tsai et al., ACL 2019), split at its fusion point.

encode: a temporal 1-D convolution projects each modality to d; the projected sequences
[B, T_m, d] are the mixed states (padded steps are zero).
fuse: cross-modal transformers in all six directions (a -> t, v -> t, t -> a, v -> a, t -> v,
a -> v), a self-attention transformer on each target's concatenation [B, T, 2d], the last real
step of each, and a residual two-layer output block on their concatenation [N, 6d].

``fuse`` receives only the states, so it reads each row's real steps from the states themselves:
a step is real when its projected state is non-zero (encode zeroes the padding; a mixed row's real
steps are the union of its two partners'). A row with no non-zero step keeps its first step.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_mult import MulTConfig
from .layers import CrossmodalTransformer, last_real_step
from .modeling_base import MSAPreTrainedModel


def steps_in_use(state: torch.Tensor) -> torch.Tensor:
    """Bool [N, T]: the non-zero steps of ``state`` [N, T, d]; the first step when a row has none."""
    mask = state.ne(0).any(dim=-1)
    mask[:, 0] |= ~mask.any(dim=1)
    return mask


class MulTModel(MSAPreTrainedModel):
    """MulT for sentiment regression; mixing acts on the convolution-projected sequences."""

    config_class = MulTConfig
    sequence_states = True

    def __init__(self, config: MulTConfig):
        super().__init__(config)
        d = config.hidden_dim
        self.projections = nn.ModuleList(
            nn.Conv1d(dim, d, kernel_size=kernel, padding=kernel // 2, bias=False)
            for dim, kernel in ((config.text_dim, config.text_kernel_size),
                                (config.audio_dim, config.audio_kernel_size),
                                (config.vision_dim, config.vision_kernel_size))
        )

        def crossmodal(dim: int, layers: int) -> CrossmodalTransformer:
            return CrossmodalTransformer(dim, config.num_heads, layers, config.attn_dropout, config.relu_dropout,
                                         config.res_dropout, config.embed_dropout)

        # crossmodal[target][k]: the transformer from the k-th other modality (in t, a, v order) into target
        self.crossmodal = nn.ModuleList(
            nn.ModuleList(crossmodal(d, config.num_layers) for _ in range(2)) for _ in range(3)
        )
        self.memories = nn.ModuleList(crossmodal(2 * d, max(config.num_layers, 3)) for _ in range(3))
        combined = 6 * d
        self.proj1 = nn.Linear(combined, combined)
        self.proj2 = nn.Linear(combined, combined)
        self.out_dropout = nn.Dropout(config.out_dropout)
        self.out_layer = nn.Linear(combined, 1)
        self.setup_augmentation((d, d, d))
        self.post_init()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """Projected sequences z_t, z_a, z_v, each [B, T_m, d], zero at padded steps."""
        text_features = F.dropout(text_features, p=self.config.embed_dropout, training=self.training)
        states = []
        for features, mask, projection in zip((text_features, audio_features, vision_features),
                                              (text_mask, audio_mask, vision_mask), self.projections):
            keep = mask.unsqueeze(-1).to(features.dtype)
            projected = projection((features * keep).transpose(1, 2)).transpose(1, 2)
            states.append(projected * keep)
        return tuple(states)

    def fuse(self, z_t, z_a, z_v):
        """Cross-modal and self-attention transformers, last steps, output block -> ([N, 1], None)."""
        states = (z_t, z_a, z_v)
        masks = tuple(steps_in_use(state) for state in states)
        last_states = []
        for target in range(3):
            sources = [m for m in range(3) if m != target]
            crossed = [
                transformer(states[target], masks[target], states[source], masks[source])
                for transformer, source in zip(self.crossmodal[target], sources)
            ]
            memory = self.memories[target](torch.cat(crossed, dim=-1), masks[target])
            last_states.append(last_real_step(memory, masks[target]))
        last = torch.cat(last_states, dim=-1)
        hidden = self.proj2(self.out_dropout(F.relu(self.proj1(last)))) + last
        return self.out_layer(hidden), None
