"""Building blocks shared by the backbones: masked pooling, packed LSTMs, MulT-style transformers.

Masks are bool [B, T] with True on real steps (the collator's contract: right-padded, at least
one True per row). Every block here gives the same output for a row whatever padding follows it.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .host_lengths import mask_lengths


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` [B, T, d] over the real steps of ``mask`` [B, T] -> [B, d]."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max of ``x`` [B, T, d] over the real steps of ``mask`` [B, T] -> [B, d]."""
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


def adaptive_masked_max_pool(x: torch.Tensor, mask: torch.Tensor, bins: int) -> torch.Tensor:
    """``AdaptiveMaxPool1d(bins)`` over each row's real steps only: [B, T, d] -> [B, bins, d].

    Bin i of a row with L real steps covers steps ``floor(i L / bins) <= t < ceil((i + 1) L / bins)``,
    exactly as torch's adaptive pooling of the unpadded row.
    """
    lengths = mask.sum(dim=1, keepdim=True)
    edges = torch.arange(bins + 1, device=x.device).unsqueeze(0) * lengths
    start = torch.div(edges[:, :-1], bins, rounding_mode="floor")
    end = torch.div(edges[:, 1:] + bins - 1, bins, rounding_mode="floor")
    steps = torch.arange(x.shape[1], device=x.device).view(1, 1, -1)
    in_bin = (steps >= start.unsqueeze(-1)) & (steps < end.unsqueeze(-1))
    values = x.unsqueeze(1).masked_fill(~in_bin.unsqueeze(-1), float("-inf"))
    return values.amax(dim=2)


def last_real_step(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The state of ``x`` [B, T, d] at each row's last real step of ``mask`` -> [B, d]."""
    steps = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    last = torch.where(mask, steps, torch.zeros_like(steps)).amax(dim=1)
    return x[torch.arange(x.shape[0], device=x.device), last]


def sinusoidal_positions(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """fairseq/MulT sinusoidal position embeddings of positions 1..length -> [length, dim]."""
    half = dim // 2
    scale = math.log(10000) / max(half - 1, 1)
    frequencies = torch.exp(torch.arange(half, device=device, dtype=torch.float32) * -scale)
    angles = torch.arange(1, length + 1, device=device, dtype=torch.float32).unsqueeze(1) * frequencies.unsqueeze(0)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2:
        table = F.pad(table, (0, 1))
    return table.to(dtype)


def packed_lstm(lstm: nn.LSTM, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a batch-first ``lstm`` on the real steps of each row only.

    Returns the padded outputs [B, T, dirs * h] (zeros at padding) and the final hidden states
    [layers * dirs, B, h]. The lengths come from the collator's host ints when the forward
    registered them (``host_lengths``), else from the mask (one device-to-host copy).
    """
    lengths = mask_lengths(mask)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    outputs, (final_hidden, _) = lstm(packed)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])
    return outputs, final_hidden


def uses_dropout_attention(x: torch.Tensor) -> bool:
    """Whether attention with dropout on ``x``'s device goes through :func:`dropout_attention`: on the CPU
    without autocast, where ``scaled_dot_product_attention`` with dropout falls back to its math kernel."""
    return x.device.type == "cpu" and not torch.is_autocast_enabled("cpu")


def dropout_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, key_mask: torch.Tensor,
                      dropout_p: float) -> torch.Tensor:
    """``scaled_dot_product_attention(query, key, value, attn_mask=key_mask[:, None, None, :], dropout_p=dropout_p)``
    of [B, H, T, d] heads in training, with the same dropout draws (one ``dropout`` of the [B * H, Tq, Tk]
    probabilities from the same generator) and the same values up to rounding.

    The math kernel that SDPA uses on the CPU when dropout is on scales, adds the mask, runs a "safe"
    softmax (extra passes to find rows with no key: isneginf, all, where, and their buffers) and then
    the dropout, each over all B * H * Tq * Tk scores. Here the mask is a bias added by ``baddbmm``
    with the scaling, the softmax is the plain one (masked keys get the lowest finite score, so no row
    is all -inf), and a row with no real key is zeroed on the [B, H, Tq, d] output, as the safe softmax does.
    """
    batch, heads, length, width = query.shape
    keys = key.shape[2]
    bias = torch.zeros(batch, 1, keys, dtype=query.dtype, device=query.device)
    bias = bias.masked_fill_(~key_mask[:, None, :], torch.finfo(query.dtype).min).repeat_interleave(heads, dim=0)
    probabilities = torch.softmax(torch.baddbmm(bias, query.reshape(batch * heads, length, width),
                                                key.reshape(batch * heads, keys, width).transpose(1, 2),
                                                alpha=width ** -0.5), dim=-1)
    attended = torch.bmm(F.dropout(probabilities, dropout_p, training=True), value.reshape(batch * heads, keys, -1))
    has_key = key_mask.any(dim=1).to(attended.dtype)[:, None, None, None]
    return attended.view(batch, heads, length, -1) * has_key


class CrossmodalTransformerLayer(nn.Module):
    """One pre-norm MulT block: (cross-modal) multi-head attention, then a ReLU feed-forward net.

    Attention runs through ``scaled_dot_product_attention`` (memory-light kernels when attention
    dropout is off, e.g. in evaluation), except in CPU training with attention dropout, where
    :func:`dropout_attention` computes the same thing with fewer passes over the scores.
    """

    def __init__(self, dim: int, num_heads: int, attn_dropout: float, relu_dropout: float, res_dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.attn_dropout = attn_dropout
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.attention_norm = nn.LayerNorm(dim)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.relu_dropout = nn.Dropout(relu_dropout)
        self.res_dropout = nn.Dropout(res_dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        query = self.attention_norm(x)
        keys = query if source is None else self.attention_norm(source)
        key, value = self.key_value(keys).chunk(2, dim=-1)
        heads = (self._heads(self.query(query)), self._heads(key), self._heads(value))
        if self.training and self.attn_dropout > 0 and uses_dropout_attention(x):
            attended = dropout_attention(*heads, key_mask, self.attn_dropout)
        else:
            attended = F.scaled_dot_product_attention(*heads, attn_mask=key_mask[:, None, None, :],
                                                      dropout_p=self.attn_dropout if self.training else 0.0)
        x = x + self.res_dropout(self.out(attended.transpose(1, 2).flatten(start_dim=2)))
        hidden = self.relu_dropout(F.relu(self.fc1(self.feed_forward_norm(x))))
        return x + self.res_dropout(self.fc2(hidden))


class CrossmodalTransformer(nn.Module):
    """MulT's transformer encoder: scaled inputs plus sinusoidal positions, pre-norm blocks, final norm.

    With ``source`` it is a cross-modal transformer (queries from ``x``, keys and values from
    ``source``); without, a self-attention encoder. Padded keys (False in the mask) are left out.
    """

    def __init__(self, dim: int, num_heads: int, num_layers: int, attn_dropout: float = 0.0,
                 relu_dropout: float = 0.0, res_dropout: float = 0.0, embed_dropout: float = 0.0):
        super().__init__()
        self.embed_scale = math.sqrt(dim)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.layers = nn.ModuleList(
            CrossmodalTransformerLayer(dim, num_heads, attn_dropout, relu_dropout, res_dropout)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(dim)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        positions = sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        return self.embed_dropout(self.embed_scale * x + positions)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, source: torch.Tensor | None = None,
                source_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self._embed(x)
        if source is not None:
            source = self._embed(source)
        key_mask = mask if source is None else source_mask
        for layer in self.layers:
            x = layer(x, key_mask, source)
        return self.norm(x)


class ModalitySubNet(nn.Module):
    """TFN/LMF audio and vision sub-network: BatchNorm, dropout, three ReLU layers of ``hidden_dim``.

    A one-sample training batch is normalised with the running statistics (batch statistics of
    one sample are undefined).
    """

    def __init__(self, input_dim: int, hidden_dim: int, dropout: float):
        super().__init__()
        self.norm = nn.BatchNorm1d(input_dim)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            normed = F.batch_norm(x, self.norm.running_mean, self.norm.running_var, self.norm.weight,
                                  self.norm.bias, training=False, eps=self.norm.eps)
        else:
            normed = self.norm(x)
        return self.layers(self.dropout(normed))


class TextSubNet(nn.Module):
    """TFN/LMF language sub-network: an LSTM over the real tokens, dropout, a linear layer."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _, final_hidden = packed_lstm(self.lstm, x, mask)
        return self.linear(self.dropout(final_hidden[-1]))


class SubNetworks(nn.Module):
    """TFN/LMF unimodal sub-networks: the text LSTM net and the time-averaged audio and vision nets.

    ``config`` carries ``{text,audio,vision}_dim``, ``text_hidden_dim``, ``text_out_dim``,
    ``{audio,vision}_hidden_dim`` and the three dropouts (TFN's and LMF's configs both do).
    """

    def __init__(self, config) -> None:
        super().__init__()
        self.text_subnet = TextSubNet(config.text_dim, config.text_hidden_dim, config.text_out_dim, config.text_dropout)
        self.audio_subnet = ModalitySubNet(config.audio_dim, config.audio_hidden_dim, config.audio_dropout)
        self.vision_subnet = ModalitySubNet(config.vision_dim, config.vision_hidden_dim, config.vision_dropout)
        self.output_dims = (config.text_out_dim, config.audio_hidden_dim, config.vision_hidden_dim)

    def forward(self, text_features: torch.Tensor, audio_features: torch.Tensor, vision_features: torch.Tensor,
                text_mask: torch.Tensor, audio_mask: torch.Tensor,
                vision_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z_t [B, text_out_dim], z_a [B, audio_hidden_dim], z_v [B, vision_hidden_dim]."""
        return (
            self.text_subnet(text_features, text_mask),
            self.audio_subnet(masked_mean(audio_features, audio_mask)),
            self.vision_subnet(masked_mean(vision_features, vision_mask)),
        )
