"""ALMT, the Adaptive Language-guided Multimodal Transformer (Zhang et al., EMNLP 2023), split at its fusion point.

encode: each modality is linearly embedded to 128-d and read by its own embedding transformer,
which prepends 8 learnable tokens (plus learned positions); the 8 token outputs h_t, h_a, h_v
[B, 8, 128] are the mixed states.
fuse: a language encoder gives h_t at several depths; adaptive hyper-modality learning (AHL)
layers let each depth of language query audio and vision and add the result to a learnable
hyper-modality state; a cross-modal fusion transformer (queries: a class token and the language
tokens; keys and values: the class token and the hyper-modality state) gives the class token, and
a linear head predicts from it.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_almt import ALMTConfig
from .modeling_base import MSAPreTrainedModel
from .text_encoder import build_text_encoder, run_text_encoder, text_input_dim


def multi_head_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, num_heads: int,
                         key_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention of projected inputs [N, T, heads * head_dim] -> [N, Tq, heads * head_dim].

    ``key_mask`` [N, Tk] is True on the keys that may be attended to.
    """
    def split(x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (num_heads, -1)).transpose(1, 2)

    mask = None if key_mask is None else key_mask[:, None, None, :]
    out = F.scaled_dot_product_attention(split(query), split(key), split(value), attn_mask=mask)
    return out.transpose(1, 2).flatten(start_dim=2)


class Attention(nn.Module):
    """Multi-head attention with bias-free query/key/value projections and an output projection."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, dropout: float):
        super().__init__()
        inner = num_heads * head_dim
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        attended = multi_head_attention(self.to_q(query), self.to_k(key), self.to_v(value), self.num_heads, key_mask)
        return self.to_out(attended)


class FeedForward(nn.Sequential):
    """Linear, GELU, dropout, linear, dropout."""

    def __init__(self, dim: int, mlp_dim: int, dropout: float):
        super().__init__(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim),
                         nn.Dropout(dropout))


class TransformerLayer(nn.Module):
    """ALMT's pre-norm block: queries, keys and values each layer-normalised, attention, then feed-forward.

    Without ``source`` it is self-attention; with it, cross-attention from ``x`` to ``source``.
    """

    def __init__(self, dim: int, num_heads: int, head_dim: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.query_norm = nn.LayerNorm(dim)
        self.key_norm = nn.LayerNorm(dim)
        self.value_norm = nn.LayerNorm(dim)
        self.attention = Attention(dim, num_heads, head_dim, dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, mlp_dim, dropout)

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        source = x if source is None else source
        x = x + self.attention(self.query_norm(x), self.key_norm(source), self.value_norm(source), key_mask)
        return x + self.feed_forward(self.feed_forward_norm(x))


class EmbeddingTransformer(nn.Module):
    """Prepends ``num_tokens`` learnable tokens, adds learned positions, and returns the token outputs."""

    def __init__(self, config: ALMTConfig, max_length: int, name: str):
        super().__init__()
        self.name = name
        self.max_length = max_length
        self.tokens = nn.Parameter(torch.zeros(1, config.num_tokens, config.hidden_dim))
        self.positions = nn.Parameter(torch.randn(1, config.num_tokens + max_length, config.hidden_dim))
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            TransformerLayer(config.hidden_dim, config.num_heads, config.head_dim, config.mlp_dim, config.dropout)
            for _ in range(config.embedding_depth)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        if length > self.max_length:
            raise ValueError(f"ALMT: {self.name} sequences of length {length} exceed {self.name}_max_length="
                             f"{self.max_length}; raise it in the config")
        tokens = self.tokens.expand(x.shape[0], -1, -1)
        x = torch.cat([tokens, x], dim=1) + self.positions[:, : tokens.shape[1] + length]
        x = self.dropout(x)
        key_mask = torch.cat([mask.new_ones(mask.shape[0], tokens.shape[1]), mask], dim=1)
        for layer in self.layers:
            x = layer(x, key_mask=key_mask)
        return x[:, : tokens.shape[1]]


class HyperModalityLayer(nn.Module):
    """One AHL layer: language queries audio and vision; the summed results shift the hyper-modality state."""

    def __init__(self, config: ALMTConfig):
        super().__init__()
        dim, inner = config.hidden_dim, config.num_heads * config.hyper_head_dim
        self.num_heads = config.num_heads
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(4))
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k_audio = nn.Linear(dim, inner, bias=False)
        self.to_k_vision = nn.Linear(dim, inner, bias=False)
        self.to_v_audio = nn.Linear(dim, inner, bias=False)
        self.to_v_vision = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(config.dropout))

    def forward(self, h_t: torch.Tensor, h_a: torch.Tensor, h_v: torch.Tensor, h_hyper: torch.Tensor) -> torch.Tensor:
        h_t, h_a, h_v, h_hyper = (norm(x) for norm, x in zip(self.norms, (h_t, h_a, h_v, h_hyper)))
        query = self.to_q(h_t)
        from_audio = multi_head_attention(query, self.to_k_audio(h_a), self.to_v_audio(h_a), self.num_heads)
        from_vision = multi_head_attention(query, self.to_k_vision(h_v), self.to_v_vision(h_v), self.num_heads)
        return h_hyper + self.to_out(from_audio + from_vision)


class ALMTModel(MSAPreTrainedModel):
    """ALMT for sentiment regression; mixing acts on the [B, 8, 128] embedding-transformer tokens."""

    config_class = ALMTConfig

    def __init__(self, config: ALMTConfig):
        super().__init__(config)
        d = config.hidden_dim
        self.text_encoder = build_text_encoder(config)
        text_dim = text_input_dim(config, self.text_encoder)
        self.embed = nn.ModuleList(nn.Linear(dim, d) for dim in (text_dim, config.audio_dim, config.vision_dim))
        self.embedding_transformers = nn.ModuleList(
            EmbeddingTransformer(config, length, name)
            for length, name in ((config.text_max_length, "text"), (config.audio_max_length, "audio"),
                                 (config.vision_max_length, "vision"))
        )
        self.language_layers = nn.ModuleList(
            TransformerLayer(d, config.num_heads, config.head_dim, config.mlp_dim, config.dropout)
            for _ in range(config.hyper_depth - 1)
        )
        self.language_positions = nn.Parameter(torch.randn(1, config.num_tokens, d))
        self.hyper_modality = nn.Parameter(torch.ones(1, config.num_tokens, d))
        self.hyper_layers = nn.ModuleList(HyperModalityLayer(config) for _ in range(config.hyper_depth))
        self.fusion_class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.fusion_source_positions = nn.Parameter(torch.randn(1, config.num_tokens + 1, d))
        self.fusion_target_positions = nn.Parameter(torch.randn(1, config.num_tokens + 1, d))
        self.fusion_layers = nn.ModuleList(
            TransformerLayer(d, config.num_heads, config.head_dim, config.mlp_dim, config.dropout)
            for _ in range(config.fusion_depth)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(d, 1)
        self.setup_augmentation((d, d, d))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, EmbeddingTransformer):
            nn.init.zeros_(module.tokens)
            nn.init.normal_(module.positions)
        elif isinstance(module, ALMTModel):
            nn.init.normal_(module.language_positions)
            nn.init.ones_(module.hyper_modality)
            nn.init.zeros_(module.fusion_class_token)
            nn.init.normal_(module.fusion_source_positions)
            nn.init.normal_(module.fusion_target_positions)

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """Token outputs h_t, h_a, h_v of the three embedding transformers, each [B, num_tokens, hidden_dim]."""
        if self.text_encoder is not None:
            text_features, text_mask = run_text_encoder(self.text_encoder, input_ids, attention_mask)
        return tuple(
            transformer(embed(features), mask)
            for transformer, embed, features, mask in zip(self.embedding_transformers, self.embed,
                                                          (text_features, audio_features, vision_features),
                                                          (text_mask, audio_mask, vision_mask))
        )

    def fuse(self, z_t, z_a, z_v):
        """Language encoder, AHL layers, cross-modal fusion, head -> (prediction [N, 1], None)."""
        language = self.dropout(z_t + self.language_positions)
        language_states = [language]
        for layer in self.language_layers:
            language = layer(language)
            language_states.append(language)
        hyper = self.hyper_modality.expand(z_t.shape[0], -1, -1)
        for layer, h_t in zip(self.hyper_layers, language_states):
            hyper = layer(h_t, z_a, z_v, hyper)
        class_token = self.fusion_class_token.expand(z_t.shape[0], -1, -1)
        source = self.dropout(torch.cat([class_token, hyper], dim=1) + self.fusion_source_positions)
        target = self.dropout(torch.cat([class_token, language_states[-1]], dim=1) + self.fusion_target_positions)
        for layer in self.fusion_layers:
            target = layer(target, source)
        return self.head(target[:, 0]), None
