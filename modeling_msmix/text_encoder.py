"""The optional Hugging Face text encoder that ALMT and MISA fine-tune (BERT in their papers).

A config names the encoder with ``text_encoder_name_or_path``. When a model is first created,
the pretrained encoder is loaded with ``AutoModel.from_pretrained`` and its config is copied into
``text_encoder_config``; from then on (a saved msmix model reloaded with ``from_pretrained``) the
encoder is rebuilt offline from that stored config with ``AutoModel.from_config`` and its weights
come from the msmix checkpoint.
"""

import torch
from transformers import AutoConfig, AutoModel, PreTrainedModel


def build_text_encoder(config) -> PreTrainedModel | None:
    """The text encoder described by ``config``, or ``None`` when it uses precomputed features.

    ``config`` needs ``text_encoder_name_or_path`` and ``text_encoder_config``; the latter is
    filled in here on first creation. The encoder's pooler (unused: the backbones read the token
    states) is dropped so that every parameter receives a gradient.
    """
    if config.text_encoder_config is not None:
        stored = dict(config.text_encoder_config)
        encoder = AutoModel.from_config(AutoConfig.for_model(stored.pop("model_type"), **stored))
    elif config.text_encoder_name_or_path is not None:
        encoder = AutoModel.from_pretrained(config.text_encoder_name_or_path)
        config.text_encoder_config = encoder.config.to_dict()
    else:
        return None
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    return encoder


def run_text_encoder(encoder: PreTrainedModel, input_ids: torch.Tensor | None,
                     attention_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states [B, T, h] and the bool token mask [B, T] of ``encoder`` on ``input_ids``."""
    if input_ids is None:
        raise ValueError("this model has a text encoder (text_encoder_name_or_path is set): pass input_ids "
                         "and attention_mask in the batch")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return hidden, attention_mask.bool()


def text_input_dim(config, encoder: PreTrainedModel | None) -> int:
    """Width of the text the backbone reads: the encoder's hidden size, or the precomputed features' dim."""
    return config.text_dim if encoder is None else encoder.config.hidden_size
