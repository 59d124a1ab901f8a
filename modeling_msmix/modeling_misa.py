"""MISA (Hazarika et al., ACM MM 2020), split at its fusion point.

encode: text -> masked mean of the token states (BERT's, precomputed or fine-tuned) -> Linear,
ReLU, LayerNorm; audio and vision -> two stacked bidirectional LSTMs with a LayerNorm between
them, the final states of both -> Linear, ReLU, LayerNorm. These projected utterances
u_t, u_a, u_v [B, hidden_dim] are the mixed states.
fuse: a shared encoder and three private encoders (Linear + sigmoid) map each u_m to its invariant
and specific vectors; a transformer over the six vectors and a two-layer head predict. The
auxiliary loss is ``diff_weight * L_diff + sim_weight * L_sim + recon_weight * L_recon``: soft
orthogonality between private and shared vectors, CMD between the shared vectors of each pair of
modalities, and the MSE of reconstructing u_m from its private plus shared vectors.
"""

import torch
from torch import nn

from .configuration_misa import MISAConfig
from .layers import masked_mean, packed_lstm
from .modeling_base import MSAPreTrainedModel
from .text_encoder import build_text_encoder, run_text_encoder, text_input_dim


def difference_loss(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Soft orthogonality: mean squared entry of ``A^T B`` for centred, row-normalised A and B."""
    def normalise(x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=0, keepdim=True)
        return x / (x.norm(dim=1, keepdim=True).detach() + 1e-6)

    return (normalise(first).t() @ normalise(second)).pow(2).mean()


def cmd_loss(first: torch.Tensor, second: torch.Tensor, moments: int) -> torch.Tensor:
    """Central moment discrepancy: ||E[x] - E[y]|| + sum_{k=2..K} ||c_k(x) - c_k(y)|| (Zellinger 2017)."""
    mean_first, mean_second = first.mean(dim=0), second.mean(dim=0)
    centred_first, centred_second = first - mean_first, second - mean_second
    total = (mean_first - mean_second).pow(2).sum().add(1e-12).sqrt()
    for order in range(2, moments + 1):
        gap = centred_first.pow(order).mean(dim=0) - centred_second.pow(order).mean(dim=0)
        total = total + gap.pow(2).sum().add(1e-12).sqrt()
    return total


class SequenceEncoder(nn.Module):
    """MISA's audio/vision encoder: BiLSTM, LayerNorm, BiLSTM (hidden = input size); final states of both."""

    def __init__(self, dim: int):
        super().__init__()
        self.first = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.norm = nn.LayerNorm(2 * dim)
        self.second = nn.LSTM(2 * dim, dim, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        outputs, first_final = packed_lstm(self.first, x, mask)
        _, second_final = packed_lstm(self.second, self.norm(outputs), mask)
        return torch.cat([first_final, second_final], dim=0).transpose(0, 1).flatten(start_dim=1)


def projection(input_dim: int, hidden_dim: int) -> nn.Sequential:
    """MISA's utterance projection: Linear, ReLU, LayerNorm."""
    return nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.LayerNorm(hidden_dim))


class MISAModel(MSAPreTrainedModel):
    """MISA for sentiment regression; mixing acts on the projected utterances u_t, u_a, u_v."""

    config_class = MISAConfig

    def __init__(self, config: MISAConfig):
        super().__init__(config)
        h = config.hidden_dim
        self.text_encoder = build_text_encoder(config)
        text_dim = text_input_dim(config, self.text_encoder)
        self.audio_encoder = SequenceEncoder(config.audio_dim)
        self.vision_encoder = SequenceEncoder(config.vision_dim)
        self.project_text = projection(text_dim, h)
        self.project_audio = projection(4 * config.audio_dim, h)
        self.project_vision = projection(4 * config.vision_dim, h)
        self.private = nn.ModuleList(nn.Sequential(nn.Linear(h, h), nn.Sigmoid()) for _ in range(3))
        self.shared = nn.Sequential(nn.Linear(h, h), nn.Sigmoid())
        self.reconstruct = nn.ModuleList(nn.Linear(h, h) for _ in range(3))
        layer = nn.TransformerEncoderLayer(h, config.fusion_num_heads, batch_first=True)
        self.fusion_transformer = nn.TransformerEncoder(layer, config.fusion_num_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(6 * h, 3 * h), nn.Dropout(config.dropout), nn.ReLU(), nn.Linear(3 * h, 1))
        self.setup_augmentation((h, h, h))
        self.post_init()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """Projected utterances u_t, u_a, u_v, each [B, hidden_dim]."""
        if self.text_encoder is not None:
            text_features, text_mask = run_text_encoder(self.text_encoder, input_ids, attention_mask)
        u_t = self.project_text(masked_mean(text_features, text_mask))
        u_a = self.project_audio(self.audio_encoder(audio_features, audio_mask))
        u_v = self.project_vision(self.vision_encoder(vision_features, vision_mask))
        return u_t, u_a, u_v

    def fuse(self, z_t, z_a, z_v):
        """Shared/private subspaces, transformer fusion, head -> (prediction [N, 1], weighted MISA losses)."""
        utterances = (z_t, z_a, z_v)
        private = [encoder(u) for encoder, u in zip(self.private, utterances)]
        shared = [self.shared(u) for u in utterances]
        fused = self.fusion_transformer(torch.stack(private + shared, dim=1))
        prediction = self.head(fused.flatten(start_dim=1))

        config = self.config
        diff = sum(difference_loss(p, s) for p, s in zip(private, shared))
        diff = diff + difference_loss(private[1], private[0]) + difference_loss(private[1], private[2])
        diff = diff + difference_loss(private[0], private[2])
        sim = sum(cmd_loss(shared[i], shared[j], config.cmd_moments) for i, j in ((0, 2), (0, 1), (1, 2))) / 3
        recon = sum(
            (rebuild(p + s) - u).pow(2).mean()
            for rebuild, p, s, u in zip(self.reconstruct, private, shared, utterances)
        ) / 3
        auxiliary = config.diff_weight * diff + config.sim_weight * sim + config.recon_weight * recon
        return prediction, auxiliary
