"""The command-line arguments of ``trainer/run.py``: data, model, and training (``TrainingArguments`` with msmix defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from data_processing.loading import DEFAULT_DATASET
from modeling_msmix import augmentation_names

DEFAULT_BACKBONE = "lmf"
DEFAULT_AUGMENTATION = "msmix"
LOWER_IS_BETTER_METRICS: tuple[str, ...] = ("loss", "MAE")


@dataclass
class DataArguments:
    """Which dataset to train on and how batches are cut."""

    dataset: str = field(
        default=DEFAULT_DATASET,
        metadata={"help": "'default' (built-in generated data, MOSI-like profile; 'default:clean' is the easy "
                  "profile), a save_to_disk folder, or a Hub dataset id"},
    )
    dataset_config_name: str | None = field(default=None, metadata={"help": "load_dataset configuration name"})
    dataset_kind: str | None = field(
        default=None,
        metadata={"help": "metric set: mosi, mosei, sims or custom (default: the dataset's metadata)"},
    )
    max_text_length: int | None = field(default=None, metadata={"help": "truncate text to this many steps"})
    max_audio_length: int | None = field(default=None, metadata={"help": "truncate audio to this many frames"})
    max_vision_length: int | None = field(default=None, metadata={"help": "truncate vision to this many frames"})
    pad_to_max_length: bool = field(
        default=False, metadata={"help": "pad every batch to the three max_*_length instead of the batch maximum"}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training samples"})
    max_eval_samples: int | None = field(default=None, metadata={"help": "use only the first N validation samples"})
    max_predict_samples: int | None = field(default=None, metadata={"help": "use only the first N test samples"})
    in_memory_max_gb: float = field(
        default=4.0,
        metadata={"help": "collate from tensors prepared once in memory when the padded splits fit in this many GB "
                  "(0: always read the memory-mapped Arrow rows)"},
    )


@dataclass
class ModelArguments:
    """Which backbone and augmentation to train, from scratch or from a checkpoint."""

    backbone: str = field(default=DEFAULT_BACKBONE,
                          metadata={"help": "tfn, lmf, mult, misa, almt, glomo or dashfusion"})
    augmentation: str = field(
        default=DEFAULT_AUGMENTATION,
        metadata={"help": f"one of {', '.join(augmentation_names())} (msmix:no_* are the paper's ablations)"},
    )
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "start from this saved model (folder or Hub id) instead of a fresh one; its dims must match the data"},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "comma-separated config settings, e.g. 'alpha=1.0,threshold=0.3,polarity_aware=true,"
            "sal_weight=100' (augmentation options and backbone sizes)"
        },
    )


@dataclass
class MSMixTrainingArguments(TrainingArguments):
    """``TrainingArguments`` with the defaults of an msmix run, several seeds and early stopping.

    ``output_dir`` may name ``{backbone}`` and ``{augmentation}``; they are filled in by run.py.
    With ``metric_for_best_model`` ``loss`` or ``MAE`` lower is better unless
    ``greater_is_better`` is given.
    """

    output_dir: str | None = field(
        default="outputs/{backbone}-{augmentation}",
        metadata={"help": "where checkpoints, the model and the results go ({backbone}/{augmentation} are filled in)"},
    )
    seeds: list[int] = field(
        default_factory=list,
        metadata={"help": "train once per seed and report the mean and std of every metric (default: --seed)"},
    )
    early_stopping_patience: int | None = field(
        default=3, metadata={"help": "stop after this many evaluations without improvement (0: never)"}
    )
    early_stopping_threshold: float = field(
        default=0.0, metadata={"help": "smallest change of the best-model metric that counts as improvement"}
    )
    msmix_health_check: bool = field(
        default=True,
        metadata={"help": "MS-Mix models: warn when the task is not learned (validation MAE at the train-mean "
                  "level, or the task's gradient share below its floor), SIG sits at the tanh bound or collapses, "
                  "or SASS passes nearly every pair (trainer.msmix_health)"},
    )
    loss_gradient_norms: bool = field(
        default=True,
        metadata={"help": "on logged training steps, log each loss part's gradient norm on the shared parameters "
                  "(encoders and fusion) and on the augmentation's own (grad_norm_*, grad_share_*; "
                  "trainer.gradient_shares): one extra backward per loss part every logging_steps"},
    )
    keep_freed_cpu_memory: bool = field(
        default=True,
        metadata={"help": "CPU runs on Linux/glibc: keep freed memory in the process heap for reuse instead of "
                  "mapping and zeroing large tensors afresh every step (trainer.cpu_memory; TFN's and MulT's CPU "
                  "step take 0.6-0.85x the CPU time). Trade-off: freed memory is not returned to the OS until the "
                  "process exits, and the peak RSS may grow a little (fragmentation: +2-18 % measured). Not applied "
                  "on CUDA runs"},
    )
    per_device_train_batch_size: int = field(default=64, metadata={"help": "batch size per process for training"})
    per_device_eval_batch_size: int = field(default=128, metadata={"help": "batch size per process for evaluation"})
    num_train_epochs: float = field(default=8.0, metadata={"help": "total number of training epochs"})
    learning_rate: float = field(default=2e-3, metadata={"help": "initial AdamW learning rate"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "learning-rate schedule"})
    warmup_steps: float = field(default=0.1, metadata={"help": "warm-up steps, or a ratio of all steps if < 1"})
    eval_strategy: str = field(default="epoch", metadata={"help": "when to evaluate on the validation split"})
    save_strategy: str = field(default="epoch", metadata={"help": "when to save a checkpoint"})
    save_total_limit: int | None = field(default=1, metadata={"help": "checkpoints kept besides the best one"})
    load_best_model_at_end: bool = field(default=True, metadata={"help": "reload the best checkpoint at the end"})
    metric_for_best_model: str | None = field(
        default="MAE",
        metadata={"help": "validation metric that selects the best model (MAE, Corr, loss, ...); metrics are computed "
                  "on the predictions gathered from all processes, so MAE selects the same epoch with any number "
                  "of processes (the loss is a mean of per-process batch losses)"},
    )
    logging_steps: float = field(default=10, metadata={"help": "log the loss and its parts every N steps"})
    remove_unused_columns: bool = field(default=False, metadata={"help": "must stay False for the msmix collator"})
    dataloader_pin_memory: bool = field(
        default_factory=torch.cuda.is_available, metadata={"help": "pin batches in memory (default: when CUDA is there)"}
    )
    hub_allow_local_extractors: bool = field(
        default=False,
        metadata={"help": "--push_to_hub even though the extractors are local folders (nobody else has them)"},
    )

    def __post_init__(self) -> None:
        if self.greater_is_better is None and self.metric_for_best_model is not None:
            name = self.metric_for_best_model.removeprefix("eval_")
            self.greater_is_better = not (name in LOWER_IS_BETTER_METRICS or name.endswith("loss"))
        super().__post_init__()

    @property
    def run_seeds(self) -> list[int]:
        """The seeds to train with: ``seeds``, or ``[seed]`` when none are given."""
        return list(self.seeds) or [self.seed]
