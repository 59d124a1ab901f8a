"""MS-Mix's health during training: is each part still doing something?

MS-Mix's parts can go inert in training without any error: a modality's SIG intensities can
pile up at the tanh bound (|I| = 3), where they no longer differ between samples and tanh's
gradient is ~0 so they stay there; their batch spread (max - min of |I|, the denominator of the
ratio's min-max) can collapse, so lam_adapt only amplifies noise; and SASS can pass nearly every
pair, so partners are as random as vanilla Mixup's. The model logs the figures of every mixed
batch (``msmix_bound_share_<m>``, ``msmix_intensity_spread_<m>``, ``msmix_sass_above_threshold``,
see :func:`modeling_msmix.mixing_msmix.mixing_statistics`); this module reads them:

- :class:`MSMixHealthCallback` (added by ``MSMixTrainer`` for MS-Mix models unless
  ``msmix_health_check=False``) warns once per problem, with the figure and the step, as soon as
  a training log shows it, and logs a one-line summary at the end of training;
- :func:`health_summary` condenses a run's ``log_history`` (the model card's "MS-Mix health"
  section).

A log is flagged when, averaged over its logging interval, more than half of a modality's
samples sit at the bound, its spread is below 0.05 (of the range 0-3; only with SPEC's
``sig_ratio_weights="batch_minmax"``, which stretches that spread to [0, 1]), or SASS passes more
than 90 % of the pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerState
from transformers.utils import logging

logger = logging.get_logger(__name__)

MODALITIES: tuple[str, ...] = ("text", "audio", "vision")
STATISTIC_PREFIX = "msmix_"
BOUND_SHARE_LIMIT = 0.5
SPREAD_FLOOR = 0.05
SASS_PASS_LIMIT = 0.9


@dataclass(frozen=True)
class HealthFinding:
    """One problem seen in one training log: ``problem`` is ``at_bound``, ``collapsed`` or ``random_partners``."""

    problem: str
    modality: str | None
    figure: float
    step: int

    @property
    def key(self) -> str:
        """``at_bound:text``, ``random_partners``: one warning per key and run."""
        return self.problem if self.modality is None else f"{self.problem}:{self.modality}"

    def message(self) -> str:
        """The warning, with the figure."""
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


def health_summary(log_history: Sequence[Mapping[str, Any]], ratio_weights: str = "batch_minmax"
                   ) -> dict[str, Any] | None:
    """Means over a run's training logs and how many logs each problem flagged (see :func:`health_findings`);
    ``None`` without MS-Mix logs.

    ``{"logs": N, "bound_share": {m: mean}, "intensity_spread": {m: mean}, "sass_above_threshold":
    mean or None, "flagged": {key: count}}``.
    """
    logs = [entry for entry in log_history if f"{STATISTIC_PREFIX}bound_share_text" in entry]
    if not logs:
        return None

    def mean(name: str) -> float | None:
        values = [float(entry[name]) for entry in logs if name in entry]
        return sum(values) / len(values) if values else None

    flagged: dict[str, int] = {}
    for entry in logs:
        for finding in health_findings(entry, int(entry.get("step", 0)), ratio_weights):
            flagged[finding.key] = flagged.get(finding.key, 0) + 1
    return {
        "logs": len(logs),
        "bound_share": {m: mean(f"{STATISTIC_PREFIX}bound_share_{m}") for m in MODALITIES},
        "intensity_spread": {m: mean(f"{STATISTIC_PREFIX}intensity_spread_{m}") for m in MODALITIES},
        "sass_above_threshold": mean(f"{STATISTIC_PREFIX}sass_above_threshold"),
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
    """When a log is flagged, in words, from the limits this module checks."""
    return (f"over {100 * BOUND_SHARE_LIMIT:.0f} % of a modality's samples sit at SIG's tanh bound, its batch "
            f"spread of |I| is below {SPREAD_FLOOR} (batch min-max ratios only), or SASS passes over "
            f"{100 * SASS_PASS_LIMIT:.0f} % of the pairs")


def summary_line(summary: Mapping[str, Any]) -> str:
    """``MS-Mix health over 40 training logs: at_bound text in 38, ...`` (or ``no problem seen``)."""
    return f"MS-Mix health over {summary['logs']} training logs: {flagged_text(summary) or 'no problem seen'}"


class MSMixHealthCallback(TrainerCallback):
    """Warn when MS-Mix's SIG saturates or collapses, or SASS stops selecting (see the module docstring).

    Each problem is warned about once per run, at the first log that shows it; ``findings`` keeps
    every flagged log's finding, and the end of training logs :func:`summary_line`.
    """

    def __init__(self) -> None:
        self.findings: list[HealthFinding] = []
        self.ratio_weights = "batch_minmax"
        self._warned: set[str] = set()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.findings, self._warned = [], set()
        self.ratio_weights = ratio_weights_of(getattr(model, "config", None))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        for finding in health_findings(logs, state.global_step, self.ratio_weights):
            self.findings.append(finding)
            if finding.key not in self._warned:
                self._warned.add(finding.key)
                logger.warning(finding.message())

    def on_train_end(self, args, state, control, **kwargs):
        summary = health_summary(state.log_history, self.ratio_weights)
        if summary is not None and state.is_world_process_zero:
            (logger.warning if summary["flagged"] else logger.info)(summary_line(summary))
