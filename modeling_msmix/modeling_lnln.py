"""LNLN, language-dominated noise-resistant learning (Zhang et al., NeurIPS 2024), split at its fusion point.

encode: each modality is linearly embedded to 128-d and read by its own embedding transformer
(2 layers), which prepends 8 learnable tokens (plus learned positions); the 8 token outputs
h_t, h_a, h_v [B, 8, 128] are the mixed states (as for ALMT); padded steps are left out of the
attention (the reference attends to its padding). In training, encode first removes
random data: each modality of each sample gets a missing rate r (0 for a ``complete_fraction`` of
them, else r ~ U(0, ``missing_rate_max``)) and loses each real step with probability r, removed
as the ``random_step_missing`` robustness protocol removes steps (``modality_masks.keep_steps``;
tokens through the text encoder's attention mask; the reference instead zeroes removed frames and
puts [UNK] in place of removed tokens, and labels completeness with 1 - r, the drawn rate, where
here it is the fraction actually kept). The states come from these incomplete inputs;
the complete inputs go through the same embedding transformers in the same pass, as the targets
of the dominant modality correction (DMC) losses, which encode computes on the B original rows:

- completeness: MSE between the completeness check's score w and the fraction of the text's
  real steps that were kept (0 for a missing text);
- effectiveness: cross-entropy of the effectiveness discriminator telling the dominant feature
  h_d of each token (label 1) from the complete language tokens (label 0). Adversarial through a
  gradient reversal on the proxy dominant feature in this branch only: the discriminator
  minimises the cross-entropy, the proxy generator maximises it, within the Trainer's one
  optimizer. (The reference reverses the proxy's gradient for every loss, the sentiment loss too;
  here the sentiment loss reaches the proxy generator unreversed.)
- reconstruction: MSE between three reconstructors' outputs on h_t, h_a, h_v and the complete
  inputs' tokens.

They are weighted by ``completeness_weight``, ``effectiveness_weight`` and ``reconstruction_weight``
(the paper's alpha, beta, gamma) and reported as the loss parts ``completeness``, ``effectiveness``
and ``reconstruction``; evaluation removes nothing and has none of them.
fuse (for N rows, original or mixed): DMC: the completeness check (a 2-layer transformer with
one learnable token and an MLP with a sigmoid) gives w [N, 1] from h_t; the proxy dominant feature
generator (a 2-layer transformer over 8 learnable proxy tokens, h_a and h_v, read at 8 prepended
tokens) gives h_p; h_d = w h_t + (1 - w) h_p. Dominant-modality-based multimodal learning: a
language encoder gives h_d at several depths, hyper-modality learning layers let each depth query
audio and vision (ALMT's layers), a cross-modal fusion transformer (queries: a class token and
the last h_d; keys and values: the class token and the hyper-modality state) gives 9 tokens, and a
linear head predicts from the mean of the 8 non-class tokens.

Sizes: the config's defaults are the reference's CMU-MOSI configuration (positions for 50/375/500
text/audio/vision steps, fusion depth 2, precomputed 768-d text): 6,483,012 parameters besides
MS-Mix's intensity predictors, the count of the reference's model without its BERT (checked in
``tests/test_lnln.py`` from the reference's layer sizes). Its MOSEI configuration (74/35-d audio/
vision, 500/500 steps, fusion depth 4) has 7,102,404, its SIMS one (33/709-d, 39/400/55 steps,
fusion depth 4) 7,112,260; ``text_encoder_name_or_path`` adds the BERT (bert-base without its
pooler: 108,891,648). States: 3 x [B, 8, 128]; logits [B, 1].
"""

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_lnln import LNLNConfig
from .modality_masks import keep_steps, keep_tokens, modality_present
from .modeling_almt import HyperModalityLayer, TransformerLayer
from .modeling_base import MSAPreTrainedModel
from .text_encoder import build_text_encoder, run_text_encoder, text_input_dim

EFFECTIVE_LABEL, COMPLETE_LABEL = 1, 0


class GradientReversal(torch.autograd.Function):
    """Identity in the forward pass; the backward pass negates the gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.neg()


class TokenTransformer(nn.Module):
    """LNLN's transformer: ``num_tokens`` learnable tokens prepended (none: the steps themselves are
    read), learned positions, dropout, ``depth`` of ALMT's pre-norm layers; padded steps (False in
    ``mask``) are left out of the keys."""

    def __init__(self, config: LNLNConfig, max_length: int, num_tokens: int, depth: int, name: str):
        super().__init__()
        d = config.hidden_dim
        self.name = name
        self.max_length = max_length
        self.num_tokens = num_tokens
        self.tokens = nn.Parameter(torch.zeros(1, num_tokens, d)) if num_tokens else None
        self.positions = nn.Parameter(torch.randn(1, num_tokens + max_length, d))
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            TransformerLayer(d, config.num_heads, config.head_dim, config.mlp_dim, config.dropout)
            for _ in range(depth)
        )

    def hidden_states(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The input (tokens prepended, positions added) and every layer's output, each [N, num_tokens + L, d]."""
        length = x.shape[1]
        if length > self.max_length:
            raise ValueError(f"LNLN: {self.name} sequences of length {length} exceed {self.name}_max_length="
                             f"{self.max_length}; raise it in the config")
        key_mask = mask
        if self.tokens is not None:
            x = torch.cat([self.tokens.expand(x.shape[0], -1, -1), x], dim=1)
            if mask is not None:
                key_mask = torch.cat([mask.new_ones(mask.shape[0], self.num_tokens), mask], dim=1)
        x = self.dropout(x + self.positions[:, : x.shape[1]])
        states = [x]
        for layer in self.layers:
            x = layer(x, key_mask=key_mask)
            states.append(x)
        return states

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The last layer's output at the learnable tokens [N, num_tokens, d] (at every step without tokens)."""
        last = self.hidden_states(x, mask)[-1]
        return last[:, : self.num_tokens] if self.num_tokens else last


class CompletenessCheck(nn.Module):
    """w [N, 1] in (0, 1): how complete the language tokens look (a one-token transformer, an MLP, a sigmoid)."""

    def __init__(self, config: LNLNConfig):
        super().__init__()
        self.transformer = TokenTransformer(config, config.num_tokens, 1, config.dmc_depth, "completeness")
        self.head = nn.Sequential(nn.Linear(config.hidden_dim, config.completeness_hidden_dim), nn.LeakyReLU(0.1),
                                  nn.Linear(config.completeness_hidden_dim, 1), nn.Sigmoid())

    def forward(self, h_t: torch.Tensor) -> torch.Tensor:
        return self.head(self.transformer(h_t)[:, 0])


class ProxyDominantFeatureGenerator(nn.Module):
    """h_p [N, num_tokens, d]: a transformer over learnable proxy tokens, h_a and h_v, read at prepended tokens."""

    def __init__(self, config: LNLNConfig):
        super().__init__()
        self.proxy_tokens = nn.Parameter(torch.ones(1, config.num_tokens, config.hidden_dim))
        self.transformer = TokenTransformer(config, 3 * config.num_tokens, config.num_tokens, config.dmc_depth,
                                            "proxy")

    def forward(self, h_a: torch.Tensor, h_v: torch.Tensor) -> torch.Tensor:
        proxy = self.proxy_tokens.expand(h_a.shape[0], -1, -1)
        return self.transformer(torch.cat([proxy, h_a, h_v], dim=1))


def dominant_feature(h_t: torch.Tensor, h_p: torch.Tensor, completeness: torch.Tensor) -> torch.Tensor:
    """h_d = w h_t + (1 - w) h_p, with w [N, 1] the completeness score of each row."""
    w = completeness.unsqueeze(-1)
    return w * h_t + (1 - w) * h_p


class LNLNModel(MSAPreTrainedModel):
    """LNLN for sentiment regression; mixing acts on the [B, 8, 128] embedding-transformer tokens."""

    config_class = LNLNConfig

    def __init__(self, config: LNLNConfig):
        super().__init__(config)
        d, tokens = config.hidden_dim, config.num_tokens
        self.text_encoder = build_text_encoder(config)
        text_dim = text_input_dim(config, self.text_encoder)
        self.embed = nn.ModuleList(nn.Linear(dim, d) for dim in (text_dim, config.audio_dim, config.vision_dim))
        self.embedding_transformers = nn.ModuleList(
            TokenTransformer(config, length, tokens, config.embedding_depth, name)
            for length, name in ((config.text_max_length, "text"), (config.audio_max_length, "audio"),
                                 (config.vision_max_length, "vision"))
        )
        self.completeness_check = CompletenessCheck(config)
        self.proxy_generator = ProxyDominantFeatureGenerator(config)
        self.effectiveness_discriminator = nn.Sequential(
            nn.Linear(d, config.discriminator_hidden_dim), nn.LeakyReLU(0.1),
            nn.Linear(config.discriminator_hidden_dim, 2))
        self.reconstructors = nn.ModuleList(
            TokenTransformer(config, tokens, 0, config.dmc_depth, f"{name} reconstructor")
            for name in ("text", "audio", "vision")
        )
        self.language_encoder = TokenTransformer(config, tokens, 0, config.hyper_depth - 1, "language")
        self.hyper_modality = nn.Parameter(torch.ones(1, tokens, d))
        self.hyper_layers = nn.ModuleList(HyperModalityLayer(config) for _ in range(config.hyper_depth))
        self.fusion_class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.fusion_source_positions = nn.Parameter(torch.randn(1, tokens + 1, d))
        self.fusion_target_positions = nn.Parameter(torch.randn(1, tokens + 1, d))
        self.fusion_layers = nn.ModuleList(
            TransformerLayer(d, config.num_heads, config.head_dim, config.mlp_dim, config.dropout)
            for _ in range(config.fusion_depth)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(d, 1)
        self._correction_losses = None
        self.setup_augmentation((d, d, d))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, TokenTransformer):
            if module.tokens is not None:
                nn.init.zeros_(module.tokens)
            nn.init.normal_(module.positions)
        elif isinstance(module, ProxyDominantFeatureGenerator):
            nn.init.ones_(module.proxy_tokens)
        elif isinstance(module, LNLNModel):
            nn.init.ones_(module.hyper_modality)
            nn.init.zeros_(module.fusion_class_token)
            nn.init.normal_(module.fusion_source_positions)
            nn.init.normal_(module.fusion_target_positions)

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """Token outputs h_t, h_a, h_v [B, num_tokens, hidden_dim] of the embedding transformers; in
        training those of the inputs with random missing data, and the weighted DMC losses for fuse."""
        features, masks = (text_features, audio_features, vision_features), (text_mask, audio_mask, vision_mask)
        if self.text_encoder is None:
            input_ids = attention_mask = None
        elif input_ids is not None and attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        self._correction_losses = None
        if not self.training:
            return self._embed(features, masks, input_ids, attention_mask)
        text_present = (modality_present(text_features, text_mask) if attention_mask is None
                        else attention_mask[:, 1:].bool().any(dim=1))
        if float(self.config.missing_rate_max) > 0:
            dropped_features, dropped_masks, dropped_attention, kept = self._drop_random_steps(
                features, masks, attention_mask)
            both = self._embed(tuple(torch.cat(pair) for pair in zip(features, dropped_features)),
                               tuple(torch.cat(pair) for pair in zip(masks, dropped_masks)),
                               None if input_ids is None else input_ids.repeat(2, 1),
                               None if attention_mask is None else torch.cat([attention_mask, dropped_attention]))
            batch = text_features.shape[0]
            complete, states = tuple(s[:batch] for s in both), tuple(s[batch:] for s in both)
        else:
            states = complete = self._embed(features, masks, input_ids, attention_mask)
            kept = torch.ones(text_features.shape[0], device=text_features.device)
        completeness = (kept * text_present).to(states[0].dtype).unsqueeze(-1)
        self._correction_losses = self.correction_losses(states, complete, completeness)
        return states

    def _embed(self, features, masks, input_ids, attention_mask) -> tuple[torch.Tensor, ...]:
        if self.text_encoder is not None:
            text, text_mask = run_text_encoder(self.text_encoder, input_ids, attention_mask)
            features, masks = (text, *features[1:]), (text_mask, *masks[1:])
        return tuple(
            transformer(embed(x), mask)
            for transformer, embed, x, mask in zip(self.embedding_transformers, self.embed, features, masks)
        )

    def _drop_random_steps(self, features, masks, attention_mask):
        """LNLN's random missing data, drawn from torch's generator: (features, masks, attention_mask or None,
        the fraction of each row's real text steps (tokens with a text encoder) kept [B])."""
        batch, device = features[0].shape[0], features[0].device
        rates = torch.rand(batch, 3, device=device) * float(self.config.missing_rate_max)
        rates = rates.masked_fill(torch.rand(batch, 3, device=device) < float(self.config.complete_fraction), 0.0)
        dropped_features, dropped_masks, keeps = [], [], []
        for index, (feature, mask) in enumerate(zip(features, masks)):
            keeps.append((torch.rand(mask.shape, device=device) >= rates[:, index, None]) & mask)
            feature, mask = keep_steps(feature, mask, keeps[-1])
            dropped_features.append(feature)
            dropped_masks.append(mask)
        dropped_attention, kept = None, keeps[0].sum(dim=1) / masks[0].sum(dim=1).clamp_min(1)
        if attention_mask is not None:
            keep = torch.rand(attention_mask.shape, device=device) >= rates[:, 0, None]
            dropped_attention = keep_tokens(attention_mask, keep)
            kept = dropped_attention.sum(dim=1) / attention_mask.sum(dim=1).clamp_min(1)
        return tuple(dropped_features), tuple(dropped_masks), dropped_attention, kept

    def correction_losses(self, states: tuple[torch.Tensor, ...], complete: tuple[torch.Tensor, ...],
                          completeness: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted DMC losses of B rows: ``states`` of the incomplete inputs, ``complete`` of the
        complete ones, ``completeness`` [B, 1] the fraction of the text that remains."""
        config = self.config
        h_t, h_a, h_v = states
        w = self.completeness_check(h_t)
        h_d = dominant_feature(h_t, GradientReversal.apply(self.proxy_generator(h_a, h_v)), w)
        scores = self.effectiveness_discriminator(torch.cat([h_d, complete[0]]).flatten(end_dim=1))
        tokens = h_d.shape[0] * h_d.shape[1]
        labels = torch.cat([torch.full((tokens,), EFFECTIVE_LABEL), torch.full((tokens,), COMPLETE_LABEL)])
        rebuilt = torch.cat([rebuild(state) for rebuild, state in zip(self.reconstructors, states)], dim=1)
        return {
            "completeness": config.completeness_weight * F.mse_loss(w, completeness),
            "effectiveness": config.effectiveness_weight * F.cross_entropy(scores, labels.to(scores.device)),
            "reconstruction": config.reconstruction_weight * F.mse_loss(rebuilt, torch.cat(complete, dim=1)),
        }

    def fuse(self, z_t, z_a, z_v):
        """DMC and dominant-modality-based multimodal learning -> (prediction [N, 1], the DMC losses of the
        last training encode or None)."""
        h_d = dominant_feature(z_t, self.proxy_generator(z_a, z_v), self.completeness_check(z_t))
        dominant_states = self.language_encoder.hidden_states(h_d)
        hyper = self.hyper_modality.expand(z_t.shape[0], -1, -1)
        for layer, dominant in zip(self.hyper_layers, dominant_states):
            hyper = layer(dominant, z_a, z_v, hyper)
        class_token = self.fusion_class_token.expand(z_t.shape[0], -1, -1)
        source = self.dropout(torch.cat([class_token, hyper], dim=1) + self.fusion_source_positions)
        target = self.dropout(torch.cat([class_token, dominant_states[-1]], dim=1) + self.fusion_target_positions)
        for layer in self.fusion_layers:
            target = layer(target, source)
        return self.head(target[:, 1:].mean(dim=1)), self._correction_losses
