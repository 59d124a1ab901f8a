"""``ModelCardCallback``: a ``TrainerCallback`` that keeps the model card of a run up to date.

It records the training arguments when training begins and the test metrics whenever the
Trainer evaluates with ``metric_key_prefix="test"`` (and, for MS-Mix, its health over the training
logs), and (on the main process) writes
``README.md`` into ``args.output_dir`` at the end of training and after each test evaluation,
so the folder that ``save_pretrained`` fills is ready to upload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from .model_card import build_model_card
from .msmix_health import health_summary, ratio_weights_of

TEST_PREFIX = "test_"


class ModelCardCallback(TrainerCallback):
    """Fill and write the model card from a ``Trainer`` run.

    Args:
        repo_id: where the model will be published (for the usage snippets).
        dataset_id: the training dataset's Hub id or name.
        license: licence id of the weights.
    """

    def __init__(self, repo_id: str = "<user>/<model>", dataset_id: str | None = None,
                 license: str | None = "apache-2.0") -> None:
        self.repo_id = repo_id
        self.dataset_id = dataset_id
        self.license = license
        self.training_args: dict[str, Any] | None = None
        self.test_metrics: dict[str, float] = {}

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        self.training_args = args.to_dict()

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float] | None = None, model: PreTrainedModel | None = None,
                    **kwargs: Any) -> None:
        test = {k: v for k, v in (metrics or {}).items() if k.startswith(TEST_PREFIX)}
        if test:
            self.test_metrics = test
            self._write(args, state, model)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     model: PreTrainedModel | None = None, **kwargs: Any) -> None:
        self._write(args, state, model)

    def card_path(self, args: TrainingArguments) -> Path:
        """Where the card is written: ``<output_dir>/README.md``."""
        return Path(args.output_dir) / "README.md"

    def _write(self, args: TrainingArguments, state: TrainerState, model: PreTrainedModel | None) -> None:
        if model is None or not state.is_world_process_zero:
            return
        card = build_model_card(
            model.config,
            repo_id=self.repo_id,
            dataset_id=self.dataset_id,
            results=self.test_metrics or None,
            training_args=self.training_args or args,
            license=self.license,
            mixing_health=health_summary(state.log_history, ratio_weights_of(model.config)),
        )
        self.card_path(args).parent.mkdir(parents=True, exist_ok=True)
        card.save(self.card_path(args))
