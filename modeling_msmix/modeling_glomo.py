"""GLoMo, Global-Local Modal fusion (Zhuang et al., 2025), split at its fusion point.

encode: per modality a global (coarse) vector and a local (fine) vector, both 96-d. Text: the
first token's state ([CLS]) through a linear layer is global; a 1-D convolution over the tokens,
adaptive max pooling into 3 local segments and a modality-specific mixture of experts (noisy
top-2 gating over 3 two-layer MLP experts) give the local vector. Audio and vision: a 1-D
convolution and a MulT transformer encoder; max pooling over time is global, pooling into 3
segments plus the MoE is local. Each state z_m = stack(global_m, local_m) [B, 2, 96], so one
pairing mixes both vectors. The MoE load-balance loss arises here; ``fuse`` reports it.
fuse: a transformer over the six vectors; two attention gates weigh the modalities' global and
local vectors; the global gate also weighs per-modality global+local summaries; a linear layer
predicts from both views.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_glomo import GLoMoConfig
from .layers import CrossmodalTransformer, adaptive_masked_max_pool, masked_max
from .modeling_base import MSAPreTrainedModel

GATE_NOISE_FLOOR = 1e-2


def squared_coefficient_of_variation(x: torch.Tensor) -> torch.Tensor:
    """``var(x) / (mean(x)^2 + 1e-10)`` over a vector (0 for a single entry)."""
    if x.numel() == 1:
        return x.new_zeros(())
    return x.float().var() / (x.float().mean() ** 2 + 1e-10)


class MixtureOfExperts(nn.Module):
    """Sparsely gated MoE (Shazeer et al., 2017): noisy top-k gating, two-layer MLP experts, balance loss.

    All experts run on every row (few, small experts); rows not routed to an expert get gate 0.
    """

    def __init__(self, input_dim: int, output_dim: int, hidden_dim: int, num_experts: int, top_k: int):
        super().__init__()
        self.top_k = top_k
        self.gate = nn.Parameter(torch.zeros(input_dim, num_experts))
        self.noise = nn.Parameter(torch.zeros(input_dim, num_experts))
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim))
            for _ in range(num_experts)
        )

    def reset_gates(self) -> None:
        """Zero gating weights, as in the reference (uniform routing at the start)."""
        nn.init.zeros_(self.gate)
        nn.init.zeros_(self.noise)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(combined expert outputs [N, output_dim], unweighted balance loss)."""
        num_experts = len(self.experts)
        clean = x @ self.gate
        noisy_gating = self.training and self.top_k < num_experts
        if noisy_gating:
            noise_std = F.softplus(x @ self.noise) + GATE_NOISE_FLOOR
            logits = clean + torch.randn_like(clean) * noise_std
        else:
            logits = clean
        top_logits, top_indices = logits.topk(min(self.top_k + 1, num_experts), dim=1)
        gates = torch.zeros_like(logits).scatter(1, top_indices[:, : self.top_k],
                                                 torch.softmax(top_logits[:, : self.top_k], dim=1))
        if noisy_gating:
            # probability that each expert stays in the top k under a fresh draw of its noise
            threshold_in = top_logits[:, self.top_k : self.top_k + 1]
            threshold_out = top_logits[:, self.top_k - 1 : self.top_k]
            in_top = logits > threshold_in
            load = torch.where(in_top, torch.special.ndtr((clean - threshold_in) / noise_std),
                               torch.special.ndtr((clean - threshold_out) / noise_std)).sum(dim=0)
        else:
            load = (gates > 0).sum(dim=0).to(x.dtype)
        balance = squared_coefficient_of_variation(gates.sum(dim=0)) + squared_coefficient_of_variation(load)
        outputs = torch.stack([expert(x) for expert in self.experts], dim=1)
        return torch.einsum("ne,neo->no", gates, outputs), balance


class TextGlobalLocal(nn.Module):
    """Text: global = Linear([CLS] state); local = MoE(adaptive max pool(conv1d(tokens)))."""

    def __init__(self, input_dim: int, config: GLoMoConfig):
        super().__init__()
        d = config.hidden_dim
        self.granularity = config.text_granularity
        self.global_projection = nn.Linear(input_dim, d)
        self.convolution = nn.Conv1d(input_dim, d, kernel_size=3, padding=1, bias=False)
        self.experts = MixtureOfExperts(d * self.granularity, d, d, config.text_experts, config.top_k)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coarse = self.global_projection(x[:, 0])
        x = x * mask.unsqueeze(-1).to(x.dtype)
        local = self.convolution(x.transpose(1, 2)).transpose(1, 2)
        pooled = adaptive_masked_max_pool(local, mask, self.granularity).flatten(start_dim=1)
        fine, balance = self.experts(pooled)
        return torch.stack([coarse, fine], dim=1), balance


class SequenceGlobalLocal(nn.Module):
    """Audio/vision: conv1d and a MulT encoder; global = max over time; local = MoE(segment max pools)."""

    def __init__(self, input_dim: int, granularity: int, num_experts: int, config: GLoMoConfig):
        super().__init__()
        d = config.hidden_dim
        self.granularity = granularity
        self.convolution = nn.Conv1d(input_dim, d, kernel_size=3, padding=1, bias=False)
        self.encoder = CrossmodalTransformer(d, config.num_heads, config.num_layers, config.attn_dropout,
                                             config.relu_dropout, config.res_dropout, config.embed_dropout)
        self.experts = MixtureOfExperts(d * granularity, d, d, num_experts, config.top_k)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x * mask.unsqueeze(-1).to(x.dtype)
        hidden = self.encoder(self.convolution(x.transpose(1, 2)).transpose(1, 2), mask)
        coarse = masked_max(hidden, mask)
        pooled = adaptive_masked_max_pool(hidden, mask, self.granularity).flatten(start_dim=1)
        fine, balance = self.experts(pooled)
        return torch.stack([coarse, fine], dim=1), balance


class ModalityGate(nn.Module):
    """Attention over three modality vectors: MLP on their concatenation -> softmax weights -> weighted sum."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.scale = dim ** -0.5
        self.score = nn.Sequential(nn.Linear(3 * dim, dim), nn.Dropout(dropout), nn.ReLU(), nn.Linear(dim, 3))

    def forward(self, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``vectors`` [N, 3, d] -> (weights [N, 3], weighted sum [N, d])."""
        weights = torch.softmax(self.score(vectors.flatten(start_dim=1)) * self.scale, dim=1)
        return weights, torch.einsum("nm,nmd->nd", weights, vectors)


class GLoMoModel(MSAPreTrainedModel):
    """GLoMo for sentiment regression; mixing acts on the stacked global and local vectors [B, 2, 96]."""

    config_class = GLoMoConfig

    def __init__(self, config: GLoMoConfig):
        super().__init__(config)
        d = config.hidden_dim
        self.text_network = TextGlobalLocal(config.text_dim, config)
        self.audio_network = SequenceGlobalLocal(config.audio_dim, config.audio_granularity, config.audio_experts,
                                                 config)
        self.vision_network = SequenceGlobalLocal(config.vision_dim, config.vision_granularity,
                                                  config.vision_experts, config)
        layer = nn.TransformerEncoderLayer(d, config.num_heads, batch_first=True)
        self.fusion_transformer = nn.TransformerEncoder(layer, config.fusion_num_layers, enable_nested_tensor=False)
        self.global_gate = ModalityGate(d, config.gate_dropout)
        self.local_gate = ModalityGate(d, config.gate_dropout)
        self.gated_projection = nn.Linear(2 * d, d)
        self.modality_projections = nn.ModuleList(nn.Linear(2 * d, d) for _ in range(3))
        self.classifier = nn.Linear(2 * d, 1)
        self._balance_loss = None
        self.setup_augmentation((d, d, d))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, MixtureOfExperts):
            module.reset_gates()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """States z_m = stack(global_m, local_m), each [B, 2, hidden_dim]; keeps the MoE balance loss for fuse."""
        z_t, balance_t = self.text_network(text_features, text_mask)
        z_a, balance_a = self.audio_network(audio_features, audio_mask)
        z_v, balance_v = self.vision_network(vision_features, vision_mask)
        self._balance_loss = self.config.moe_loss_weight * (balance_t + balance_a + balance_v)
        return z_t, z_a, z_v

    def fuse(self, z_t, z_a, z_v):
        """Global-guided fusion -> (prediction [N, 1], weighted MoE balance loss of the last encode)."""
        hidden = self.fusion_transformer(torch.cat([z_t, z_a, z_v], dim=1))
        coarse, fine = hidden[:, 0::2], hidden[:, 1::2]
        global_weights, global_summary = self.global_gate(coarse)
        _, local_summary = self.local_gate(fine)
        gated = self.gated_projection(torch.cat([global_summary, local_summary], dim=1))
        per_modality = torch.stack([
            projection(torch.cat([coarse[:, m], fine[:, m]], dim=1))
            for m, projection in enumerate(self.modality_projections)
        ], dim=1)
        guided = torch.einsum("nm,nmd->nd", global_weights, per_modality)
        return self.classifier(torch.cat([gated, guided], dim=1)), self._balance_loss
