"""Shared pieces of the trainer tests: a tiny saved dataset, tiny model settings, fast training arguments.

Test files load this module by path (pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

from pathlib import Path

from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from trainer.arguments import MSMixTrainingArguments

TINY_LMF = "text_hidden_dim=8,text_out_dim=8,audio_hidden_dim=4,vision_hidden_dim=4"
# Backbone sizes small enough for a CPU test, for every backbone.
TINY_BACKBONES = {
    "tfn": dict(text_hidden_dim=8, text_out_dim=8, audio_hidden_dim=4, vision_hidden_dim=4, post_fusion_dim=8),
    "lmf": dict(text_hidden_dim=8, text_out_dim=8, audio_hidden_dim=4, vision_hidden_dim=4),
    "mult": dict(hidden_dim=8, num_heads=2, num_layers=1),
    "misa": dict(hidden_dim=8),
    "almt": dict(hidden_dim=8, num_heads=2, head_dim=4, hyper_head_dim=4, mlp_dim=8, num_tokens=2),
    "glomo": dict(hidden_dim=8, num_heads=2),
    "lnln": dict(hidden_dim=8, num_heads=2, head_dim=4, hyper_head_dim=4, mlp_dim=8, num_tokens=2,
                 completeness_hidden_dim=4, discriminator_hidden_dim=4, embedding_depth=1, dmc_depth=1),
    "dashfusion": dict(hidden_dim=8, num_heads=2, feedforward_dim=8, alignment_head_dim=4, num_bottleneck_tokens=2),
}
TINY_DATA = SyntheticConfig(
    train_size=64,
    validation_size=24,
    test_size=24,
    text_dim=16,
    audio_dim=5,
    vision_dim=6,
    max_text_length=8,
    max_audio_length=12,
    max_vision_length=10,
    min_text_length=2,
    min_audio_length=3,
    min_vision_length=3,
)


def save_tiny_dataset(folder: Path, **changes) -> Path:
    """Generate the tiny MOSI-shaped dataset (``TINY_DATA`` with ``changes``) and ``save_to_disk`` it."""
    settings = {**vars(TINY_DATA), **changes}
    generate_default_dataset(SyntheticConfig(**settings)).save_to_disk(str(folder))
    return folder


def tiny_training_args(output_dir: Path, **changes) -> MSMixTrainingArguments:
    """Few-step CPU training arguments without progress bars or checkpoints unless asked."""
    settings = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=16,
        per_device_eval_batch_size=32,
        learning_rate=1e-2,
        warmup_steps=0,
        lr_scheduler_type="constant",
        num_train_epochs=2,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        logging_steps=1,
        disable_tqdm=True,
        use_cpu=True,
        dataloader_pin_memory=False,
        early_stopping_patience=None,
        seed=7,
    )
    settings.update(changes)
    return MSMixTrainingArguments(**settings)
