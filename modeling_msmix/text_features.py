"""Token-level transcript features from a BERT-like encoder (last hidden state, with the mask)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer


@dataclass
class TextFeatures:
    """Features ``[L, D]`` of one transcript, its token ids (``L`` tokens, [CLS] and [SEP] included), tokens cut off."""

    features: np.ndarray
    input_ids: list[int]
    attention_mask: list[int]
    tokens_cut: int

    @property
    def truncated(self) -> bool:
        """Whether the transcript was longer than the encoder's limit."""
        return self.tokens_cut > 0


class TextEncoder:
    """``AutoTokenizer`` + ``AutoModel`` of ``name_or_path``, loaded once, run in eval mode."""

    def __init__(self, name_or_path: str, revision: str | None, max_length: int | None, device: torch.device) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision)
        self.model = AutoModel.from_pretrained(name_or_path, revision=revision).eval().to(device)
        self.device = device
        limit = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_length = min(max_length or limit, limit)

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def __call__(self, text: str) -> TextFeatures:
        """Encode one transcript; an empty one gives ``[0, D]`` features (the modality is missing)."""
        full = self.tokenizer(text, truncation=False, verbose=False)["input_ids"]
        encoded = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="pt")
        input_ids = encoded["input_ids"][0].tolist()
        attention_mask = encoded["attention_mask"][0].tolist()
        if not text.strip():
            return TextFeatures(np.zeros((0, self.dim), np.float32), input_ids, attention_mask, tokens_cut=0)
        hidden = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).last_hidden_state[0]
        features = hidden[encoded["attention_mask"][0].bool().to(self.device)].float().cpu().numpy()
        return TextFeatures(features, input_ids, attention_mask, tokens_cut=max(0, len(full) - len(input_ids)))
