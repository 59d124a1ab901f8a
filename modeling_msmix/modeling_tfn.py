"""TFN, the Tensor Fusion Network (Zadeh et al., EMNLP 2017), split at its fusion point.

encode: a language LSTM sub-network and three-layer audio/vision sub-networks on the masked time
averages of the audio and vision frames give z_l [B, 128], z_a [B, 32], z_v [B, 32].
fuse: the outer product of [z_l; 1], [z_a; 1] and [z_v; 1] (the appended 1s keep the unimodal and
bimodal terms), flattened, then two ReLU layers and a linear output.
"""

import torch
from torch import nn

from .configuration_tfn import TFNConfig
from .layers import SubNetworks
from .modeling_base import MSAPreTrainedModel


def append_one(z: torch.Tensor) -> torch.Tensor:
    """``[z; 1]`` for each row of ``z`` [N, d] -> [N, d + 1]."""
    return torch.cat([z, z.new_ones(z.shape[0], 1)], dim=1)


def fusion_tensor(z_t: torch.Tensor, z_a: torch.Tensor, z_v: torch.Tensor) -> torch.Tensor:
    """Outer product ``[z_t; 1] x [z_a; 1] x [z_v; 1]`` as [N, (dt+1)(da+1), dv+1] (each entry one product
    ``(t * a) * v``, the values of ``einsum("nt,na,nv->ntav")``, in the inputs' dtype).

    The last factor is applied by ``bmm`` of [N, (dt+1)(da+1), 1] and [N, 1, dv+1]: its backward is two
    ``bmm`` that read the gradient once each, where the broadcast products of ``einsum`` materialise two
    more [N, (dt+1)(da+1)(dv+1)] tensors (the largest of TFN's step, doubled by MS-Mix's 2B rows).
    """
    pairs = (append_one(z_t).unsqueeze(2) * append_one(z_a).unsqueeze(1)).flatten(start_dim=1)
    with torch.autocast(pairs.device.type, enabled=False):
        return torch.bmm(pairs.unsqueeze(2), append_one(z_v).to(pairs.dtype).unsqueeze(1))


def tensor_fusion(z_t: torch.Tensor, z_a: torch.Tensor, z_v: torch.Tensor) -> torch.Tensor:
    """Flattened outer product ``[z_t; 1] x [z_a; 1] x [z_v; 1]`` -> [N, (dt+1)(da+1)(dv+1)]."""
    return fusion_tensor(z_t, z_a, z_v).flatten(start_dim=1)


class TFNModel(MSAPreTrainedModel):
    """TFN for sentiment regression; mixing acts on the sub-network outputs (the fusion inputs)."""

    config_class = TFNConfig

    def __init__(self, config: TFNConfig):
        super().__init__(config)
        self.subnets = SubNetworks(config)
        fused_dim = (config.text_out_dim + 1) * (config.audio_hidden_dim + 1) * (config.vision_hidden_dim + 1)
        # The dropout acts in place on the fusion tensor (a fresh buffer), saving one copy of it (see fuse).
        self.post_fusion = nn.Sequential(
            nn.Dropout(config.post_fusion_dropout, inplace=True),
            nn.Linear(fused_dim, config.post_fusion_dim), nn.ReLU(),
            nn.Linear(config.post_fusion_dim, config.post_fusion_dim), nn.ReLU(),
            nn.Linear(config.post_fusion_dim, 1),
        )
        self.setup_augmentation(self.subnets.output_dims)
        self.post_init()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """Sub-network outputs z_t [B, text_out_dim], z_a [B, audio_hidden_dim], z_v [B, vision_hidden_dim]."""
        return self.subnets(text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask)

    def fuse(self, z_t, z_a, z_v):
        """Tensor fusion and the post-fusion network -> (prediction [N, 1], no auxiliary loss).

        The dropout (``post_fusion[0]``) runs on the [N, (dt+1)(da+1), dv+1] fusion tensor before it is
        flattened, so that it acts in place on the tensor itself rather than on a view of it.
        """
        fused = self.post_fusion[0](fusion_tensor(z_t, z_a, z_v)).flatten(start_dim=1)
        return self.post_fusion[1:](fused), None
