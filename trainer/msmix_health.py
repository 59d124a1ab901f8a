"""MS-Mix's health during training: is the task being learned, and is each part still doing something?

MS-Mix's auxiliary losses can own the gradient of the encoders and the fusion: SAL and the mixing
ratio lam(I) reach them through SIG, and with the paper's settings their gradient norm there is
hundreds of times the task's, so (measured on 25 % of ``mosi_reliability``) the model can end at
the level of predicting the training mean while SAL falls. Its parts can also go inert without any
error: a modality's SIG intensities can pile up at the tanh bound (|I| = 3), where they no longer
differ between samples and tanh's gradient is ~0 so they stay there; their batch spread (the
denominator of the ratio's min-max) can collapse, so lam_adapt only amplifies noise; and SASS can
pass nearly every pair, so partners are as random as vanilla Mixup's. The trainer logs the figures
(``msmix_*`` statistics of every mixed batch, ``grad_share_shared_<part>`` on logged steps, and
``eval_train_mean_MAE`` next to each validation MAE); this module reads them:

- :class:`MSMixHealthCallback` (added by ``MSMixTrainer`` for MS-Mix models unless
  ``msmix_health_check=False``) warns once per problem, with the figures and the step, as soon as
  the logs show it, and logs a one-line summary at the end of training;
- :func:`health_summary` condenses a run's ``log_history`` (``results.json`` and the model card's
  "MS-Mix health" section).

The rules (the limits are the constants below):

- **not learning**: 10 evaluations after the learning-rate warm-up the best validation MAE is not
  3 % below the MAE of predicting the training mean, while an auxiliary loss (SAL, else the mixed
  loss) fell by 5 % or more since the first log (LMF on ``mosi_reliability``, 60 epochs: without
  augmentation it leaves that level by the first evaluation after its warm-up on 25 % of the data;
  MS-Mix with stopped gradients into SIG by the fifth);
- **task starved**: the task's share of the summed gradient norms of the loss parts on the shared
  parameters (encoders and fusion) is below 10 % in 3 consecutive logs;
- a log is flagged when, averaged over its logging interval, more than half of a modality's
  samples sit at the bound, its spread is below 0.05 (of the range 0-3; only with SPEC's
  ``sig_ratio_weights="batch_minmax"``, which stretches that spread to [0, 1]), or SASS passes
  more than 90 % of the pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerState
from transformers.utils import logging

from modeling_msmix.augmentations import RECOMMENDED_MSMIX

from .gradient_shares import GRADIENT_NORM_PREFIX, GRADIENT_SHARE_PREFIX, SHARED_GROUP

logger = logging.get_logger(__name__)

MODALITIES: tuple[str, ...] = ("text", "audio", "vision")
STATISTIC_PREFIX = "msmix_"
BOUND_SHARE_LIMIT = 0.5
SPREAD_FLOOR = 0.05
SASS_PASS_LIMIT = 0.9
TRAIN_MEAN_EVALUATIONS = 10
"""Evaluations after the learning-rate warm-up by which the validation MAE must have left the train-mean level."""
TRAIN_MEAN_MARGIN = 0.03
"""Left the train-mean level: the best validation MAE is at least this fraction below predicting the mean."""
AUXILIARY_FALL = 0.05
"""An auxiliary loss fell: its latest log is at least this fraction below its first."""
TASK_SHARE_FLOOR = 0.1
"""The task's least share of the loss parts' summed gradient norms on the shared parameters."""
STARVED_LOGS = 3
"""Consecutive logs below ``TASK_SHARE_FLOOR`` that make the task starved."""
AUXILIARY_PARTS: tuple[str, ...] = ("sal", "mixed")
"""The loss parts whose fall, with a task that does not learn, marks a run that is not learning (first found)."""
TRAIN_MEAN_KEY = "eval_train_mean_MAE"
TASK_SHARE_KEY = f"{GRADIENT_SHARE_PREFIX}{SHARED_GROUP}_task"
TRY_INSTEAD = (f"try --augmentation {RECOMMENDED_MSMIX} (SIG reads stopped-gradient states and the ratios are "
               "detached, so only the task and the mixed samples train the encoders; SAL against each sample's "
               "own |y|) with --clip_grad_norm_per_group true, or a smaller sal_weight")


@dataclass(frozen=True)
class HealthFinding:
    """One problem seen in the logs: ``problem`` is ``not_learning``, ``task_starved``, ``at_bound``,
    ``collapsed`` or ``random_partners``; ``details`` holds the other figures its message names."""

    problem: str
    modality: str | None
    figure: float
    step: int
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``at_bound:text``, ``random_partners``: one warning per key and run."""
        return self.problem if self.modality is None else f"{self.problem}:{self.modality}"

    def message(self) -> str:
        """The warning, with the figures and what to try."""
        details = self.details
        if self.problem == "not_learning":
            return (f"MS-Mix health (step {self.step}): {TRAIN_MEAN_EVALUATIONS} evaluations after the warm-up the "
                    f"validation MAE is still at the train-mean level (best {self.figure:.3f}; predicting the training mean "
                    f"gives {details['train_mean_MAE']:.3f}) while loss_{details['part']} fell from "
                    f"{details['first']:.3g} to {details['last']:.3g}: the auxiliary losses are training the "
                    f"model instead of the task; {TRY_INSTEAD}")
        if self.problem == "task_starved":
            others = ", ".join(f"{part} {100 * share:.1f} %" for part, share in details.items())
            return (f"MS-Mix health (step {self.step}): the task holds {100 * self.figure:.1f} % of the gradient "
                    f"norm on the shared parameters (encoders and fusion) for {STARVED_LOGS} logs in a row "
                    f"(floor {100 * TASK_SHARE_FLOOR:.0f} %; {others}); {TRY_INSTEAD}")
        if self.problem == "at_bound":
            return (f"MS-Mix health (step {self.step}): {self.modality} SIG is at the tanh bound for "
                    f"{100 * self.figure:.0f} % of the batch; its intensities no longer tell samples apart "
                    "(see sal_target in the config)")
        if self.problem == "collapsed":
            return (f"MS-Mix health (step {self.step}): the batch spread of {self.modality} SIG's |I| collapsed to "
                    f"{self.figure:.3g} (< {SPREAD_FLOOR}); its mixing ratios only amplify noise")
        return (f"MS-Mix health (step {self.step}): SASS passes {100 * self.figure:.0f} % of the pairs "
                f"(> {100 * SASS_PASS_LIMIT:.0f} %); MS-Mix is acting like random Mixup here "
                "(see sass_threshold_quantile in the config)")


def health_findings(logs: Mapping[str, Any], step: int, ratio_weights: str = "batch_minmax") -> list[HealthFinding]:
    """The problems one training log shows (nothing when it holds no MS-Mix statistics).

    A collapsed spread is a problem only for ``ratio_weights="batch_minmax"``, which stretches it
    to [0, 1]; with ``intensity_scale`` near-equal intensities mix at 1/2.
    """
    findings = []
    for modality in MODALITIES:
        share = logs.get(f"{STATISTIC_PREFIX}bound_share_{modality}")
        if share is not None and share > BOUND_SHARE_LIMIT:
            findings.append(HealthFinding("at_bound", modality, float(share), step))
        spread = logs.get(f"{STATISTIC_PREFIX}intensity_spread_{modality}")
        if ratio_weights == "batch_minmax" and spread is not None and spread < SPREAD_FLOOR:
            findings.append(HealthFinding("collapsed", modality, float(spread), step))
    passed = logs.get(f"{STATISTIC_PREFIX}sass_above_threshold")
    if passed is not None and passed > SASS_PASS_LIMIT:
        findings.append(HealthFinding("random_partners", None, float(passed), step))
    return findings


def task_share_low(logs: Mapping[str, Any]) -> bool:
    """Whether a training log's task share on the shared parameters is below ``TASK_SHARE_FLOOR``."""
    share = logs.get(TASK_SHARE_KEY)
    return share is not None and share < TASK_SHARE_FLOOR


def starved_finding(logs: Mapping[str, Any], step: int) -> HealthFinding:
    """The ``task_starved`` finding of a log with a low task share (the other parts' shares as details)."""
    prefix = f"{GRADIENT_SHARE_PREFIX}{SHARED_GROUP}_"
    others = {key.removeprefix(prefix): float(value) for key, value in logs.items()
              if key.startswith(prefix) and key != TASK_SHARE_KEY}
    return HealthFinding("task_starved", None, float(logs[TASK_SHARE_KEY]), step, others)


def warmup_end_step(log_history: Sequence[Mapping[str, Any]]) -> int:
    """The step of the first training log at the highest logged learning rate (where the warm-up ended; 0
    without learning-rate logs)."""
    rates = [(float(entry["learning_rate"]), -int(entry.get("step", 0))) for entry in log_history
             if "learning_rate" in entry]
    return -max(rates)[1] if rates else 0


def evaluations_of(log_history: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The evaluations that report the validation MAE next to the train-mean MAE."""
    return [entry for entry in log_history if "eval_MAE" in entry and TRAIN_MEAN_KEY in entry]


def left_train_mean_at(log_history: Sequence[Mapping[str, Any]]) -> int | None:
    """The first evaluation (1-based) whose validation MAE is ``TRAIN_MEAN_MARGIN`` below the train-mean MAE."""
    for number, entry in enumerate(evaluations_of(log_history), start=1):
        if entry["eval_MAE"] < (1 - TRAIN_MEAN_MARGIN) * entry[TRAIN_MEAN_KEY]:
            return number
    return None


def not_learning_finding(log_history: Sequence[Mapping[str, Any]], warmup_steps: int | None = None
                         ) -> HealthFinding | None:
    """The ``not_learning`` finding at the ``TRAIN_MEAN_EVALUATIONS``-th evaluation after the warm-up, if the
    logs up to it show one. ``warmup_steps`` defaults to :func:`warmup_end_step` of the logs."""
    if warmup_steps is None:
        warmup_steps = warmup_end_step(log_history)
    evaluations = evaluations_of(log_history)
    after = [index for index, entry in enumerate(evaluations) if int(entry.get("step", 0)) > warmup_steps]
    if len(after) < TRAIN_MEAN_EVALUATIONS:
        return None
    window = evaluations[:after[TRAIN_MEAN_EVALUATIONS - 1] + 1]
    if left_train_mean_at(window) is not None:
        return None
    step = int(window[-1].get("step", 0))
    for part in AUXILIARY_PARTS:
        values = [float(entry[f"loss_{part}"]) for entry in log_history
                  if f"loss_{part}" in entry and int(entry.get("step", 0)) <= step]
        if values:
            if values[-1] <= (1 - AUXILIARY_FALL) * values[0]:
                best = min(float(entry["eval_MAE"]) for entry in window)
                details = {"train_mean_MAE": float(window[-1][TRAIN_MEAN_KEY]), "part": part,
                           "first": values[0], "last": values[-1]}
                return HealthFinding("not_learning", None, best, step, details)
            return None
    return None


def health_summary(log_history: Sequence[Mapping[str, Any]], ratio_weights: str = "batch_minmax",
                   warmup_steps: int | None = None) -> dict[str, Any] | None:
    """Means over a run's training logs and how many logs each problem flagged; ``None`` without MS-Mix logs.

    ``{"logs": N, "bound_share": {m: mean}, "intensity_spread": {m: mean}, "sass_above_threshold":
    mean or None, "gradient_shares": {"<group>_<part>": mean share}, "gradient_norms": {"<group>_<part>":
    mean norm}, "left_train_mean_at_evaluation": k or None, "flagged": {key: count}}``; ``flagged``
    counts the logs of each per-log problem (:func:`health_findings`), the logs with the task's gradient
    share below its floor (``task_starved``) and ``not_learning`` once when :func:`not_learning_finding`
    finds it (``warmup_steps`` as there).
    """
    logs = [entry for entry in log_history if f"{STATISTIC_PREFIX}bound_share_text" in entry]
    if not logs:
        return None

    def mean(name: str) -> float | None:
        values = [float(entry[name]) for entry in logs if name in entry]
        return sum(values) / len(values) if values else None

    def means(prefix: str) -> dict[str, float]:
        names = sorted({key for entry in logs for key in entry if key.startswith(prefix)})
        return {name.removeprefix(prefix): mean(name) for name in names}

    flagged: dict[str, int] = {}
    for entry in logs:
        findings = health_findings(entry, int(entry.get("step", 0)), ratio_weights)
        if task_share_low(entry):
            findings.append(starved_finding(entry, int(entry.get("step", 0))))
        for finding in findings:
            flagged[finding.key] = flagged.get(finding.key, 0) + 1
    if not_learning_finding(log_history, warmup_steps) is not None:
        flagged["not_learning"] = 1
    return {
        "logs": len(logs),
        "bound_share": {m: mean(f"{STATISTIC_PREFIX}bound_share_{m}") for m in MODALITIES},
        "intensity_spread": {m: mean(f"{STATISTIC_PREFIX}intensity_spread_{m}") for m in MODALITIES},
        "sass_above_threshold": mean(f"{STATISTIC_PREFIX}sass_above_threshold"),
        "gradient_shares": means(GRADIENT_SHARE_PREFIX),
        "gradient_norms": means(GRADIENT_NORM_PREFIX),
        "left_train_mean_at_evaluation": left_train_mean_at(log_history),
        "flagged": flagged,
    }


def load_health_summary(run_dir: str | Path | None, ratio_weights: str = "batch_minmax") -> dict[str, Any] | None:
    """:func:`health_summary` of the ``trainer_state.json`` in ``run_dir`` (``None`` when there is none)."""
    path = Path(run_dir) / "trainer_state.json" if run_dir else None
    if path is None or not path.is_file():
        return None
    return health_summary(TrainerState.load_from_json(str(path)).log_history, ratio_weights)


def ratio_weights_of(config: Any) -> str:
    """The ``sig_ratio_weights`` of an MS-Mix config (SPEC's ``batch_minmax`` for configs saved without it)."""
    return str(getattr(config, "sig_ratio_weights", "batch_minmax"))


def flagged_text(summary: Mapping[str, Any]) -> str:
    """``at_bound text in 38, random_partners in 3``: how many logs each problem flagged ("" when none)."""
    return ", ".join(f"{key.replace(':', ' ')} in {count}" for key, count in sorted(summary["flagged"].items()))


def health_rule() -> str:
    """When a run or a log is flagged, in words, from the limits this module checks."""
    return (f"the validation MAE has not come {100 * TRAIN_MEAN_MARGIN:.0f} % below predicting the training mean "
            f"{TRAIN_MEAN_EVALUATIONS} evaluations after the learning-rate warm-up while an auxiliary loss fell (not_learning), the task holds "
            f"under {100 * TASK_SHARE_FLOOR:.0f} % of the loss parts' gradient norm on the shared parameters "
            f"(task_starved; a warning after {STARVED_LOGS} such logs in a row), over "
            f"{100 * BOUND_SHARE_LIMIT:.0f} % of a modality's samples sit at SIG's tanh bound, its batch "
            f"spread of |I| is below {SPREAD_FLOOR} (batch min-max ratios only), or SASS passes over "
            f"{100 * SASS_PASS_LIMIT:.0f} % of the pairs")


def summary_line(summary: Mapping[str, Any]) -> str:
    """``MS-Mix health over 40 training logs: at_bound text in 38, ...`` (or ``no problem seen``)."""
    return f"MS-Mix health over {summary['logs']} training logs: {flagged_text(summary) or 'no problem seen'}"


class MSMixHealthCallback(TrainerCallback):
    """Warn when MS-Mix keeps the task from being learned, SIG saturates or collapses, or SASS stops
    selecting (see the module docstring).

    Each problem is warned about once per run, at the first log (or evaluation) that shows it;
    ``findings`` keeps every finding, and the end of training logs :func:`summary_line`.
    """

    def __init__(self) -> None:
        self.findings: list[HealthFinding] = []
        self.ratio_weights = "batch_minmax"
        self._warned: set[str] = set()
        self._starved_streak = 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.findings, self._warned, self._starved_streak = [], set(), 0
        self.ratio_weights = ratio_weights_of(getattr(model, "config", None))

    def _report(self, finding: HealthFinding) -> None:
        self.findings.append(finding)
        if finding.key not in self._warned:
            self._warned.add(finding.key)
            logger.warning(finding.message())

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        for finding in health_findings(logs, state.global_step, self.ratio_weights):
            self._report(finding)
        if TASK_SHARE_KEY in logs:
            self._starved_streak = self._starved_streak + 1 if task_share_low(logs) else 0
            if self._starved_streak >= STARVED_LOGS:
                self._report(starved_finding(logs, state.global_step))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if state.is_world_process_zero and "not_learning" not in self._warned:
            finding = not_learning_finding(state.log_history, args.get_warmup_steps(state.max_steps))
            if finding is not None:
                self._report(finding)

    def on_train_end(self, args, state, control, **kwargs):
        summary = health_summary(state.log_history, self.ratio_weights, args.get_warmup_steps(state.max_steps))
        if summary is not None and state.is_world_process_zero:
            (logger.warning if summary["flagged"] else logger.info)(summary_line(summary))
