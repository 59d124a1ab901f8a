"""DashFusion (Wen et al., IEEE TNNLS 2025): dual-stream alignment, hierarchical bottleneck fusion; split at the fusion.

encode (the dual-stream alignment's temporal stream): text -> BERT token states (precomputed or
fine-tuned) -> a two-layer projector (Linear, GELU, Linear, GELU, LayerNorm) -> H_t [B, Lt, d];
audio and vision -> Linear to d, a CLS token, learned positions, post-norm transformer layers,
LayerNorm -> H_a [B, 1 + La, d], H_v [B, 1 + Lv, d]; temporal alignment: text queries audio and
vision by cross-modal attention, H_tav = H_t + W_o(Attn(H_t, H_a) + Attn(H_t, H_v)). Padded steps
are zero. The mixed states are these aligned sequences, the text state carrying both text
sequences the fusion reads: z_t = [H_t ; H_tav] [B, Lt, 2d], z_a = H_a, z_v = H_v.
fuse (hierarchical bottleneck fusion): at each level a self-attention layer over H_tav (then over
the bottleneck) keeps its first k tokens as the bottleneck (k = 8, halved each level); the
bottleneck attends to the text, audio and vision sequences together (multi cross-attention), and
each sequence then attends to the bottleneck. The head (Linear, GELU, Linear, GELU, Linear) reads
the first bottleneck token and the first token of each sequence [N, 4d].
auxiliary_losses (the semantic stream and supervised contrastive learning, on the B original rows
only): InfoNCE over cosine similarities at temperature tau of the utterance vectors t, a, v (masked
means of H_t, H_a, H_v) and f (H_tav's first token), with classes c = round(y):
semantic alignment: anchor t_i, positives a_i and v_i, negatives t_k of the other classes;
supervised contrastive: for each of t, a, v, f, anchor m_i, positives m_j (j != i, c_j = c_i),
negatives m_k (c_k != c_i). Each pair's term is -log(e^{s_p/tau} / (e^{s_p/tau} + sum_n e^{s_n/tau}))
and each loss is the mean over its pairs.

Departures from the reference code (``ultramarineX/DashFusion``), each because the library's
contract needs it: it draws each sample's contrastive partners (2 same-class similar, 4 other-class)
from the whole training set by a similarity matrix refreshed every two epochs and encodes them in a
second pass; here the partners are the batch's other samples. Its attention layers attend to padded
steps; here every attention leaves them out (outputs do not depend on the padding). Layers it builds
but never calls (the encoders' ``fc`` and ``dense``, the alignment's ``ffn`` and norms) are left out
(70,016 parameters on MOSI). The alignment's output projection is always built (the reference drops
it when heads x head size = d, which its sizes never give). Parameters (precomputed 768-d text, no
augmentation): 2,428,417 at the defaults (MOSI's 5/20 audio/vision dims, position tables of 500
steps); with the reference's position tables 2,412,417 on MOSI (375/500 steps), 3,614,081 on MOSEI
(74/35 dims, 500/500 steps, 4 encoder layers, fusion depth 3) and 2,450,433 on CH-SIMS (33/709 dims,
400/55 steps): the reference's counts without BERT and without its unused layers. States at the
defaults for a batch of B with (Lt, La, Lv) steps: [B, Lt, 256], [B, 1 + La, 128], [B, 1 + Lv, 128];
logits [B, 1].
"""

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_dashfusion import DashFusionConfig
from .layers import masked_mean
from .modeling_almt import FeedForward, multi_head_attention
from .modeling_base import MSAPreTrainedModel
from .modeling_mult import steps_in_use
from .text_encoder import build_text_encoder, run_text_encoder, text_input_dim


def with_cls_step(mask: torch.Tensor) -> torch.Tensor:
    """The step mask [B, 1 + L] of a sequence with a CLS token prepended to the steps of ``mask`` [B, L]."""
    return torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)


class TextProjector(nn.Sequential):
    """The text branch's projection of token states to d: Linear, GELU, Linear, GELU (bias-free), LayerNorm."""

    def __init__(self, input_dim: int, dim: int):
        super().__init__(nn.Linear(input_dim, dim, bias=False), nn.GELU(), nn.Linear(dim, dim, bias=False), nn.GELU(),
                         nn.LayerNorm(dim))


class SequenceEncoder(nn.Module):
    """Audio or vision encoder: Linear to d, a CLS token, learned positions, post-norm transformer layers, LayerNorm."""

    def __init__(self, config: DashFusionConfig, input_dim: int, max_length: int, name: str):
        super().__init__()
        d = config.hidden_dim
        self.name = name
        self.max_length = max_length
        self.projection = nn.Linear(input_dim, d)
        self.cls_token = nn.Parameter(torch.ones(1, 1, d))
        self.positions = nn.Parameter(torch.zeros(1, max_length + 1, d))
        self.dropout = nn.Dropout(config.embedding_dropout)
        layer = nn.TransformerEncoderLayer(d, config.num_heads, config.feedforward_dim, config.encoder_dropout,
                                           activation="gelu", batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, config.encoder_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, L, D] features and their mask [B, L] -> [B, 1 + L, d], zero at padded steps."""
        length = x.shape[1]
        if length > self.max_length:
            raise ValueError(f"DashFusion: {self.name} sequences of length {length} exceed {self.name}_max_length="
                             f"{self.max_length}; raise it in the config")
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), self.projection(x)], dim=1)
        tokens = self.dropout(tokens + self.positions[:, : length + 1])
        steps = with_cls_step(mask)
        encoded = self.norm(self.transformer(tokens, src_key_padding_mask=~steps))
        return encoded * steps.unsqueeze(-1).to(encoded.dtype)


class TemporalAlignment(nn.Module):
    """Text queries audio and vision (bias-free projections, separate keys and values per modality):
    H_tav = H_t + W_o(Attn(H_t, H_a) + Attn(H_t, H_v))."""

    def __init__(self, config: DashFusionConfig):
        super().__init__()
        d, inner = config.hidden_dim, config.num_heads * config.alignment_head_dim
        self.num_heads = config.num_heads
        self.to_q = nn.Linear(d, inner, bias=False)
        self.to_k_audio = nn.Linear(d, inner, bias=False)
        self.to_k_vision = nn.Linear(d, inner, bias=False)
        self.to_v_audio = nn.Linear(d, inner, bias=False)
        self.to_v_vision = nn.Linear(d, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, d), nn.Dropout(config.fusion_dropout))

    def forward(self, h_t: torch.Tensor, h_a: torch.Tensor, h_v: torch.Tensor, audio_mask: torch.Tensor,
                vision_mask: torch.Tensor) -> torch.Tensor:
        query = self.to_q(h_t)
        from_audio = multi_head_attention(query, self.to_k_audio(h_a), self.to_v_audio(h_a), self.num_heads, audio_mask)
        from_vision = multi_head_attention(query, self.to_k_vision(h_v), self.to_v_vision(h_v), self.num_heads,
                                           vision_mask)
        return h_t + self.to_out(from_audio + from_vision)


class PostNormAttentionLayer(nn.Module):
    """The reference's fusion transformer layer: x + LN(Attn(x, source)), then x + LN(FF(x)).

    Its attention projects queries, keys and values with biases, has no output projection, and
    scales the scores by d^-0.5 (the model size, not the head size). Without ``source`` it is
    self-attention.
    """

    def __init__(self, dim: int, num_heads: int, feedforward_dim: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.attention_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, feedforward_dim, dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        source = x if source is None else source
        # scaled_dot_product_attention divides by sqrt(d / heads); the extra heads^-0.5 makes it sqrt(d)
        query = self.to_q(x) * self.num_heads**-0.5
        x = x + self.attention_norm(multi_head_attention(query, self.to_k(source), self.to_v(source), self.num_heads,
                                                         key_mask))
        return x + self.feed_forward_norm(self.feed_forward(x))


class BottleneckCrossAttention(nn.Module):
    """The bottleneck attends to text, audio and vision at once (bias-free projections, head-size scaling):
    b = LN(b + sum_m Attn(b, H_m)), then LN(b + FF(b))."""

    def __init__(self, dim: int, num_heads: int, feedforward_dim: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.to_v = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.attention_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, feedforward_dim, dropout)
        self.feed_forward_norm = nn.LayerNorm(dim)

    def forward(self, bottleneck: torch.Tensor, sequences: tuple[torch.Tensor, ...],
                masks: tuple[torch.Tensor, ...]) -> torch.Tensor:
        query = self.to_q(bottleneck)
        attended = sum(multi_head_attention(query, to_k(sequence), to_v(sequence), self.num_heads, mask)
                       for to_k, to_v, sequence, mask in zip(self.to_k, self.to_v, sequences, masks))
        bottleneck = self.attention_norm(bottleneck + attended)
        return self.feed_forward_norm(bottleneck + self.feed_forward(bottleneck))


class FusionLevel(nn.Module):
    """One level of the hierarchical bottleneck fusion."""

    def __init__(self, config: DashFusionConfig):
        super().__init__()
        args = (config.hidden_dim, config.num_heads, config.feedforward_dim, config.fusion_dropout)
        self.bottleneck_self = PostNormAttentionLayer(*args)
        self.bottleneck_cross = BottleneckCrossAttention(*args)
        self.sequence_cross = nn.ModuleList(PostNormAttentionLayer(*args) for _ in range(3))

    def forward(self, bottleneck: torch.Tensor, bottleneck_mask: torch.Tensor, keep: int,
                sequences: tuple[torch.Tensor, ...], masks: tuple[torch.Tensor, ...]
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """(bottleneck [N, keep, d], its mask, the three updated sequences)."""
        bottleneck = self.bottleneck_self(bottleneck, bottleneck_mask)[:, :keep]
        bottleneck_mask = bottleneck_mask[:, :keep]
        bottleneck = self.bottleneck_cross(bottleneck, sequences, masks)
        sequences = tuple(layer(sequence, bottleneck_mask, bottleneck)
                          for layer, sequence in zip(self.sequence_cross, sequences))
        return bottleneck, bottleneck_mask, sequences


def info_nce_terms(positive: torch.Tensor, negatives: torch.Tensor, negative_mask: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """-log(e^{p/tau} / (e^{p/tau} + sum_k e^{n_k/tau})) for similarities ``positive`` [P] and ``negatives``
    [P, K], where only the entries of ``negative_mask`` [P, K] count (a pair with none gives 0)."""
    negatives = (negatives / temperature).masked_fill(~negative_mask, float("-inf"))
    positive = positive / temperature
    return torch.logaddexp(positive, torch.logsumexp(negatives, dim=1)) - positive


def cosine_matrix(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Cosine similarities [B, B] of the rows of ``first`` and ``second`` [B, d]."""
    return F.normalize(first, dim=-1) @ F.normalize(second, dim=-1).t()


def semantic_alignment_loss(text: torch.Tensor, others: tuple[torch.Tensor, ...], classes: torch.Tensor,
                            temperature: float) -> torch.Tensor:
    """Mean over samples i and modalities m in ``others`` of the InfoNCE term of anchor ``text[i]``,
    positive ``m[i]``, negatives ``text[k]`` of the other classes."""
    different = classes[:, None] != classes[None, :]
    text_similarity = cosine_matrix(text, text)
    normalised = F.normalize(text, dim=-1)
    terms = [info_nce_terms((normalised * F.normalize(other, dim=-1)).sum(dim=-1), text_similarity, different,
                            temperature) for other in others]
    return torch.cat(terms).mean()


def supervised_contrastive_loss(vectors: tuple[torch.Tensor, ...], classes: torch.Tensor,
                                temperature: float) -> torch.Tensor:
    """Mean over every vector kind m and every pair i != j of one class of the InfoNCE term of anchor
    ``m[i]``, positive ``m[j]``, negatives ``m[k]`` of the other classes; 0 when no two samples share a class."""
    same = classes[:, None] == classes[None, :]
    positive = same & ~torch.eye(len(classes), dtype=torch.bool, device=classes.device)
    if not positive.any():
        return vectors[0].new_zeros(())
    anchors, partners = positive.nonzero(as_tuple=True)
    terms = []
    for vector in vectors:
        similarity = cosine_matrix(vector, vector)
        terms.append(info_nce_terms(similarity[anchors, partners], similarity[anchors], ~same[anchors], temperature))
    return torch.cat(terms).mean()


class DashFusionModel(MSAPreTrainedModel):
    """DashFusion for sentiment regression; mixing acts on the aligned sequences [H_t ; H_tav], H_a, H_v."""

    config_class = DashFusionConfig
    sequence_states = True

    def __init__(self, config: DashFusionConfig):
        super().__init__(config)
        d = config.hidden_dim
        self.text_encoder = build_text_encoder(config)
        self.text_projector = TextProjector(text_input_dim(config, self.text_encoder), d)
        self.audio_encoder = SequenceEncoder(config, config.audio_dim, config.audio_max_length, "audio")
        self.vision_encoder = SequenceEncoder(config, config.vision_dim, config.vision_max_length, "vision")
        self.temporal_alignment = TemporalAlignment(config)
        self.fusion_levels = nn.ModuleList(FusionLevel(config) for _ in range(config.fusion_depth))
        self.head = nn.Sequential(nn.Linear(4 * d, 2 * d), nn.GELU(), nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, 1))
        self.setup_augmentation((2 * d, d, d))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, SequenceEncoder):
            nn.init.ones_(module.cls_token)
            nn.init.zeros_(module.positions)

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        """z_t = [H_t ; H_tav] [B, Lt, 2d], z_a = H_a [B, 1 + La, d], z_v = H_v [B, 1 + Lv, d]; zero at padded steps."""
        if self.text_encoder is not None:
            text_features, text_mask = run_text_encoder(self.text_encoder, input_ids, attention_mask)
        text_keep = text_mask.unsqueeze(-1).to(text_features.dtype)
        h_t = self.text_projector(text_features) * text_keep
        h_a = self.audio_encoder(audio_features, audio_mask)
        h_v = self.vision_encoder(vision_features, vision_mask)
        aligned = self.temporal_alignment(h_t, h_a, h_v, with_cls_step(audio_mask), with_cls_step(vision_mask))
        return torch.cat([h_t, aligned * text_keep], dim=-1), h_a, h_v

    def state_step_masks(self, states, masks):
        """The text mask, and the audio and vision masks with their CLS step (each where its state's steps match)."""
        text_mask, audio_mask, vision_mask = masks
        return super().state_step_masks(states, (text_mask, with_cls_step(audio_mask), with_cls_step(vision_mask)))

    def fuse(self, z_t, z_a, z_v):
        """Hierarchical bottleneck fusion and the head -> (prediction [N, 1], None)."""
        h_t, aligned = z_t.split(self.config.hidden_dim, dim=-1)
        sequences = (h_t, z_a, z_v)
        masks = tuple(steps_in_use(sequence) for sequence in sequences)
        bottleneck, bottleneck_mask, keep = aligned, masks[0], self.config.num_bottleneck_tokens
        for level in self.fusion_levels:
            bottleneck, bottleneck_mask, sequences = level(bottleneck, bottleneck_mask, keep, sequences, masks)
            keep = max(1, keep // 2)
        first_tokens = [bottleneck[:, 0]] + [sequence[:, 0] for sequence in sequences]
        return self.head(torch.cat(first_tokens, dim=-1)), None

    def utterance_vectors(self, z_t, z_a, z_v) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """t, a, v (masked means of H_t, H_a, H_v over their real steps) and f (H_tav's first token), each [B, d]."""
        h_t, aligned = z_t.split(self.config.hidden_dim, dim=-1)
        t, a, v = (masked_mean(state, steps_in_use(state)) for state in (h_t, z_a, z_v))
        return t, a, v, aligned[:, 0]

    def auxiliary_losses(self, states, labels):
        """The weighted semantic alignment and supervised contrastive losses of the original rows."""
        config = self.config
        t, a, v, f = self.utterance_vectors(*states)
        classes = torch.round(labels)
        temperature = float(config.contrastive_temperature)
        return {
            "semantic_alignment": config.semantic_alignment_weight * semantic_alignment_loss(t, (v, a), classes,
                                                                                             temperature),
            "supervised_contrastive": config.supervised_contrastive_weight * supervised_contrastive_loss(
                (t, v, a, f), classes, temperature),
        }
