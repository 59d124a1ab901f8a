"""``MSMixTrainer``: ``transformers.Trainer`` for msmix models.

The model computes its loss (task + mixed + SAL + auxiliary, weights from its config) and its
``loss_parts``; the collator builds batches; this class only combines them:

- ``compute_loss`` returns the model's ``loss`` and accumulates its detached ``loss_parts`` and
  ``mix_statistics``; ``log`` adds them to each training log as ``loss_<part>`` and
  ``msmix_<statistic>`` (e.g. ``msmix_ratio_text``, ``msmix_sass_above_threshold``,
  ``msmix_intensity_audio``; mean over the logging interval and over processes), so they reach
  the progress bar, TensorBoard, Trackio or any ``report_to``. Over an interval, ``loss``
  equals the sum of the logged parts.
- evaluation and prediction call the model in eval mode without ``mix_seed`` (it never mixes)
  and return its predictions [N, 1]; ``compute_metrics`` defaults to the MSA metrics of the
  model's ``dataset_kind``.
- on the training steps that are logged, each loss part's gradient norm on the shared parameters
  (encoders and fusion) and on the augmentation's own parameters, and its share of them, join the
  log as ``grad_norm_<group>_<part>`` and ``grad_share_<group>_<part>`` (:mod:`trainer.gradient_shares`;
  one extra backward per loss part on those steps; ``loss_gradient_norms=False`` turns it off).
- for MS-Mix models, :class:`~trainer.msmix_health.MSMixHealthCallback` warns when the task is not
  being learned (validation MAE still at the train-mean level while the auxiliary losses fall, or
  the task's gradient share on the shared parameters below its floor), SIG sits at the tanh bound,
  its batch spread collapses, or SASS passes nearly every pair (``msmix_health_check=False`` in the
  training arguments turns it off).
- gradient clipping (``max_grad_norm``) treats the shared parameters and the mixing module's own
  parameters as two groups, each clipped to ``max_grad_norm`` (``clip_grad_norm_per_group``; one
  group, as in ``Trainer``, for a model without mixing parameters): measured on LMF with MS-Mix and
  stopped gradients into SIG, SAL's gradient on SIG made the global norm 5-16 in the first epochs
  (0.03-1 without augmentation), so a global clip shrank the encoders' update by that factor.
- on CPU runs, ``train`` first keeps freed memory in the process heap for reuse
  (:func:`~trainer.cpu_memory.keep_freed_cpu_memory`; ``keep_freed_cpu_memory=False`` in the
  training arguments turns it off).
- each training batch's ``mix_seed`` is combined with the training epoch in the main process
  (:func:`~trainer.collator.epoch_mix_seed`), so mixing changes every epoch whatever the
  DataLoader's workers, persistence or prefetching (workers hold copies of the collator).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from accelerate.utils import DistributedType, gather_object
from transformers import EvalPrediction, Trainer, TrainerCallback

from .collator import MSMixDataCollator, epoch_mix_seed
from .cpu_memory import keep_freed_cpu_memory_for_training
from .gradient_shares import (
    GRADIENT_NORM_PREFIX,
    GRADIENT_SHARE_PREFIX,
    gradient_shares,
    loss_part_gradient_norms,
    parameter_groups,
)
from .metrics import compute_msa_metrics
from .msmix_health import MSMixHealthCallback

LOSS_PART_PREFIX = "loss_"
MIX_STATISTIC_PREFIX = "msmix_"


def msa_metrics_from_predictions(eval_prediction: EvalPrediction, dataset_kind: str,
                                 train_label_mean: float | None = None) -> dict[str, float]:
    """``compute_metrics`` for the Trainer: the MSA metrics of ``dataset_kind`` on flat predictions, and
    with ``train_label_mean`` the MAE of predicting it for every sample (``train_mean_MAE``, the level a
    model that learned nothing ends at)."""
    metrics = compute_msa_metrics(eval_prediction.predictions, eval_prediction.label_ids, dataset_kind)
    if train_label_mean is not None:
        labels = np.asarray(eval_prediction.label_ids, dtype=np.float64).reshape(-1)
        metrics["train_mean_MAE"] = float(np.abs(labels - train_label_mean).mean())
    return metrics


def label_mean(dataset: Any) -> float | None:
    """The mean label of a training set (in-memory tensors or a torch-formatted split); ``None`` without labels."""
    labels = getattr(dataset, "labels", None)
    if labels is None and "label" in (getattr(dataset, "column_names", None) or ()):
        labels = dataset.with_format("numpy")["label"]
    return None if labels is None else float(np.asarray(labels, dtype=np.float64).mean())


class MixEpochCallback(TrainerCallback):
    """Keeps ``MSMixTrainer.mix_epoch`` equal to the training epoch (also after resuming)."""

    def __init__(self, trainer: "MSMixTrainer") -> None:
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.trainer.mix_epoch = int(state.epoch or 0)


class MSMixTrainer(Trainer):
    """A ``Trainer`` that logs the parts of the msmix loss and evaluates with the MSA metrics.

    Args:
        model, args, data_collator: as for ``Trainer``; the collator defaults to
            ``MSMixDataCollator(seed=args.seed)``.
        dataset_kind: the metric set (default: ``model.config.dataset_kind``).
        **kwargs: passed to ``Trainer`` (datasets, callbacks, ``compute_metrics`` ...).
    """

    loss_is_scaled_for_ga = False

    def __init__(self, model=None, args=None, data_collator=None, *, dataset_kind: str | None = None, **kwargs: Any):
        if args is not None and args.remove_unused_columns:
            raise ValueError("MSMixTrainer needs remove_unused_columns=False (the collator reads the schema columns)")
        if data_collator is None:
            data_collator = MSMixDataCollator(seed=args.seed if args is not None else 0)
        self.dataset_kind = dataset_kind or model.config.dataset_kind
        kwargs.setdefault("compute_metrics", partial(msa_metrics_from_predictions, dataset_kind=self.dataset_kind,
                                                     train_label_mean=label_mean(kwargs.get("train_dataset"))))
        super().__init__(model=model, args=args, data_collator=data_collator, **kwargs)
        self.mix_epoch = 0
        self.add_callback(MixEpochCallback(self))
        if getattr(self.model.config, "augmentation", None) == "msmix" and getattr(args, "msmix_health_check", True):
            self.add_callback(MSMixHealthCallback())
        self._loss_part_sums: dict[str, torch.Tensor] = {}
        self._loss_part_steps = 0
        self._gradient_norms: dict[str, torch.Tensor] = {}
        self._gradient_norm_step = -1
        self._groups: dict[str, list[torch.nn.Parameter]] | None = None

    def training_step(self, model, inputs, num_items_in_batch=None):
        """One step, with the batch's ``mix_seed`` combined with the current epoch."""
        if inputs.get("mix_seed") is not None:
            inputs = {**inputs, "mix_seed": epoch_mix_seed(inputs["mix_seed"], self.mix_epoch)}
        return super().training_step(model, inputs, num_items_in_batch)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's own loss; training steps also keep its ``loss_parts`` and ``mix_statistics`` for logging."""
        outputs = model(**inputs)
        if model.training and outputs.loss_parts:
            logged = {f"{LOSS_PART_PREFIX}{name}": value for name, value in outputs.loss_parts.items()}
            logged.update({f"{MIX_STATISTIC_PREFIX}{name}": value
                           for name, value in (outputs.mix_statistics or {}).items()})
            for name, value in logged.items():
                self._loss_part_sums[name] = self._loss_part_sums.get(name, 0) + value.detach()
            self._loss_part_steps += 1
            if len(outputs.loss_parts) > 1 and self._is_logged_step():
                self._gradient_norm_step = self.state.global_step
                self._gradient_norms = loss_part_gradient_norms(outputs.loss_parts, self._parameter_groups(model))
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _is_logged_step(self) -> bool:
        """Whether the step being computed will be logged (its first micro-batch only), with
        ``loss_gradient_norms`` on and ``logging_strategy="steps"``."""
        if not getattr(self.args, "loss_gradient_norms", True) or self.args.logging_strategy != "steps":
            return False
        step = self.state.global_step + 1
        if self._gradient_norm_step == self.state.global_step:
            return False
        interval = int(self.state.logging_steps or self.args.logging_steps)
        return (interval > 0 and step % interval == 0) or bool(self.args.logging_first_step and step == 1)

    def _parameter_groups(self, model) -> dict[str, list[torch.nn.Parameter]]:
        """:func:`~trainer.gradient_shares.parameter_groups` of the (unwrapped) model, found once per training."""
        if self._groups is None:
            self._groups = parameter_groups(self.accelerator.unwrap_model(model))
        return self._groups

    def _clip_grad_norm(self, model):
        """``Trainer``'s clipping, or with ``clip_grad_norm_per_group`` each parameter group of
        :func:`~trainer.gradient_shares.parameter_groups` clipped to ``max_grad_norm`` on its own; returns the
        pre-clip norm over all parameters either way."""
        groups = self._parameter_groups(model)
        if not getattr(self.args, "clip_grad_norm_per_group", True) or len(groups) < 2 or \
                self.accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP):
            return super()._clip_grad_norm(model)
        total = self.accelerator.clip_grad_norm_(model.parameters(), float("inf"))  # unscales once, clips nothing
        for parameters in groups.values():
            torch.nn.utils.clip_grad_norm_(parameters, self.args.max_grad_norm)
        return total

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """(loss, predictions [B, 1], labels) without mixing."""
        inputs = self._prepare_inputs({key: value for key, value in inputs.items() if key != "mix_seed"})
        with torch.no_grad(), self.compute_loss_context_manager():
            outputs = model(**inputs)
        loss = outputs.loss.detach() if outputs.loss is not None else None
        if prediction_loss_only:
            return loss, None, None
        return loss, outputs.logits.detach(), inputs.get("labels")

    def train(self, *args: Any, **kwargs: Any):
        keep_freed_cpu_memory_for_training(self.args)
        self._loss_part_sums, self._loss_part_steps = {}, 0
        self._gradient_norms, self._gradient_norm_step, self._groups = {}, -1, None
        return super().train(*args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the interval's mean loss parts and mixing statistics to a training log (the one holding ``loss``)."""
        if "loss" in logs:
            logs.update(self._pop_loss_parts())
            logs.update(self._pop_gradient_norms())
        super().log(logs, start_time)

    def _pop_gradient_norms(self) -> dict[str, float]:
        """The last logged step's gradient norms (mean over processes) and their shares; then reset."""
        if not self._gradient_norms:
            return {}
        names = sorted(self._gradient_norms)
        norms = torch.stack([self._gradient_norms[name].to(self.args.device) for name in names])
        norms = dict(zip(names, self.accelerator.reduce(norms, reduction="mean").tolist()))
        self._gradient_norms = {}
        return {**{f"{GRADIENT_NORM_PREFIX}{name}": value for name, value in norms.items()},
                **{f"{GRADIENT_SHARE_PREFIX}{name}": value for name, value in gradient_shares(norms).items()}}

    def _pop_loss_parts(self) -> dict[str, float]:
        """Mean of each accumulated value over steps (0 in steps without it) and over processes; then reset."""
        names = set(self._loss_part_sums)
        if self.accelerator.num_processes > 1:
            names = set().union(*gather_object([sorted(names)]))
        if not names:
            return {}
        names = sorted(names)
        steps = max(self._loss_part_steps, 1)
        zero = torch.zeros((), device=self.args.device)
        means = torch.stack([torch.as_tensor(self._loss_part_sums.get(name, zero), device=zero.device).float()
                             for name in names]) / steps
        means = self.accelerator.reduce(means, reduction="mean")
        self._loss_part_sums, self._loss_part_steps = {}, 0
        return dict(zip(names, means.tolist()))
