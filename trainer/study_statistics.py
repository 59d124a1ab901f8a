"""Comparisons of settings with the data set as the unit, Holm's correction and an equivalence margin.

A data set is one generated draw of the data (a data seed, one ``--experiment_dir``); each has its
own test set, so runs of one data set are not independent replicates of the question "is setting
A better than setting B". The method, exactly:

1. **Difference per data set.** For a comparison A - B and a metric, each run is keyed by
   ``(data, seed)``; within a data set, the runs of A and B that share a training seed are paired,
   and the data set's difference is the mean over those seeds of ``metric(A) - metric(B)``
   (equal to the difference of the two settings' means over the shared seeds). A data set without
   a shared seed is left out.
2. **Interval over data sets.** With n >= 2 data-set differences d_1..d_n: their mean, sample std
   s (ddof 1), the two-sided one-sample t-test of mean 0 (p = 2 * P(T_{n-1} > |mean| / (s / sqrt n)),
   p = 0 when s = 0 and the mean is not 0, p = 1 when both are 0) and the Student-t interval
   ``mean ± t_{n-1, 1 - level/2} * s / sqrt(n)`` at the comparison's level (step 3). With n < 2 there
   is no p-value and no interval, and the verdict is ``inconclusive``.
3. **Holm's correction** over a declared family of m primary comparisons, all at ``alpha``:
   order the p-values p_(1) <= ... <= p_(m) (comparisons without a p-value last, then by name);
   step k is tested at level alpha / (m - k + 1); the adjusted p-value is
   ``max_{j <= k} min(1, (m - j + 1) * p_(j))``; the procedure rejects steps 1..s-1, where s is the
   first step whose p-value is not below its level (strictly: p_(s) >= alpha / (m - s + 1)).
   Comparison k's interval is at level ``alpha / (m - min(k, s) + 1)``, so after the first
   non-rejection every later comparison gets step s's (wider) interval: then an interval excludes
   0 exactly when Holm rejects (for k >= s, p_(k) >= p_(s) >= that level). Comparisons outside
   the family (secondary, exploratory) get the unadjusted level alpha.
4. **Verdict** from that interval [low, high] and the margin delta >= 0 (the smallest effect of
   interest, in the metric's units), "better" meaning lower for ``LOWER_IS_BETTER`` metrics and
   higher otherwise, all inequalities strict:

   - ``equivalent`` when -delta < low and high < delta: every difference the interval allows is
     smaller than the smallest effect of interest. This is checked first, so an interval that
     excludes 0 but lies inside the band (a real but negligible difference) reads equivalent.
     Reading equivalence from the same (1 - level) interval is TOST at level/2 per side
     (conservative; TOST at ``level`` would use the 1 - 2 level interval). With delta = 0 the band
     is empty and nothing is equivalent.
   - ``better`` when the interval lies wholly on the better side of 0 (high < 0 for a
     lower-is-better metric, low > 0 otherwise); ``worse`` when it lies wholly on the other side.
     An endpoint exactly at 0 is not excluded.
   - ``inconclusive`` otherwise (the interval holds 0 and reaches beyond the margin).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from scipy.stats import t as student_t

from .paired_comparison import LOWER_IS_BETTER, run_key

ALPHA = 0.05
BETTER, WORSE, EQUIVALENT, INCONCLUSIVE = "better", "worse", "equivalent", "inconclusive"
COMPARISON_SEPARATOR = " - "


class Comparison(NamedTuple):
    """``setting - reference``: two setting names (``lmf + msmix``, ``lmf + msmix:no_sal``)."""

    setting: str
    reference: str

    @property
    def name(self) -> str:
        return f"{self.setting}{COMPARISON_SEPARATOR}{self.reference}"


def parse_comparisons(texts: Sequence[str], settings: Sequence[str]) -> list[Comparison]:
    """Comparisons from ``"lmf + msmix - lmf + none"``, or ``"msmix - none"`` (on every backbone of ``settings``).

    Raises ``ValueError`` naming the text when it is not two names joined by ``" - "`` or names a
    setting that is not among ``settings``.
    """
    comparisons = []
    backbones = list(dict.fromkeys(name.split(" + ", 1)[0] for name in settings))
    for text in texts:
        sides = text.split(COMPARISON_SEPARATOR)
        if len(sides) != 2 or not all(side.strip() for side in sides):
            raise ValueError(f"comparison {text!r} must be '<setting> - <reference>', e.g. 'msmix - none'")
        setting, reference = (side.strip() for side in sides)
        if " + " in setting or " + " in reference:
            pairs = [(setting, reference)]
        else:
            pairs = [(f"{b} + {setting}", f"{b} + {reference}") for b in backbones]
        unknown = sorted({name for pair in pairs for name in pair} - set(settings))
        if unknown:
            raise ValueError(f"comparison {text!r} names settings with no runs: {unknown} (have {list(settings)})")
        comparisons += [Comparison(*pair) for pair in pairs]
    return comparisons


def dataset_differences(values: Mapping[tuple[str, int], float],
                        reference: Mapping[tuple[str, int], float]) -> dict[str, dict[str, Any]]:
    """``data -> {"difference", "seeds"}``: mean over the shared training seeds of ``values - reference``."""
    by_data: dict[str, list[float]] = {}
    for key in sorted(set(values) & set(reference)):
        by_data.setdefault(key[0], []).append(float(values[key]) - float(reference[key]))
    return {data: {"difference": sum(d) / len(d), "seeds": len(d)} for data, d in by_data.items()}


def t_test(differences: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample std and the two-sided one-sample t-test p-value of mean 0 (``None`` below 2 values)."""
    count = len(differences)
    mean = sum(differences) / count if count else math.nan
    if count < 2:
        return {"n": count, "mean": mean, "std": None, "p_value": None}
    std = math.sqrt(sum((d - mean) ** 2 for d in differences) / (count - 1))
    if std == 0:
        p_value = 1.0 if mean == 0 else 0.0
    else:
        p_value = float(2 * student_t.sf(abs(mean) / (std / math.sqrt(count)), count - 1))
    return {"n": count, "mean": mean, "std": std, "p_value": p_value}


def t_interval(test: Mapping[str, Any], level: float) -> tuple[float, float] | tuple[None, None]:
    """The two-sided (1 - level) Student-t interval of ``t_test``'s mean (``(None, None)`` below 2 values)."""
    if test["std"] is None:
        return None, None
    count = test["n"]
    half = float(student_t.ppf(1 - level / 2, count - 1)) * test["std"] / math.sqrt(count)
    return test["mean"] - half, test["mean"] + half


def verdict(low: float | None, high: float | None, metric: str, margin: float) -> str:
    """``equivalent``, ``better``, ``worse`` or ``inconclusive`` for an interval (see the module docstring)."""
    if margin < 0:
        raise ValueError(f"the equivalence margin must be >= 0, got {margin}")
    if low is None or high is None:
        return INCONCLUSIVE
    if -margin < low and high < margin:
        return EQUIVALENT
    lower_better = metric in LOWER_IS_BETTER
    if (high < 0) if lower_better else (low > 0):
        return BETTER
    if (low > 0) if lower_better else (high < 0):
        return WORSE
    return INCONCLUSIVE


def holm(p_values: Mapping[str, float | None], alpha: float = ALPHA) -> dict[str, dict[str, Any]]:
    """``name -> {"step", "level", "adjusted_p", "rejected"}`` of Holm's procedure (module docstring, step 3).

    ``level`` is the level of the comparison's interval; a comparison without a p-value (fewer than
    2 data sets) counts in m, is ordered last, is never rejected and has no adjusted p-value.
    """
    order = sorted(p_values, key=lambda name: (p_values[name] is None, p_values[name] or 0.0, name))
    count = len(order)
    results, adjusted, stopped_at = {}, 0.0, None
    for step, name in enumerate(order, start=1):
        p_value = p_values[name]
        step_level = alpha / (count - step + 1)
        if stopped_at is None and (p_value is None or p_value >= step_level):
            stopped_at = step
        level = alpha / (count - (step if stopped_at is None else stopped_at) + 1)
        if p_value is not None:
            adjusted = max(adjusted, min(1.0, (count - step + 1) * p_value))
        results[name] = {"step": step, "level": level, "adjusted_p": None if p_value is None else adjusted,
                         "rejected": stopped_at is None}
    return results


def compare_settings(runs: Mapping[str, Sequence[Mapping[str, Any]]], comparisons: Sequence[Comparison],
                     metric: str, margin: float = 0.0, alpha: float = ALPHA, family: bool = False,
                     split: str = "test") -> dict[str, dict[str, Any]]:
    """``"A - B" -> row``: each comparison over data sets, Holm-corrected over ``comparisons`` when ``family``.

    ``runs`` maps a setting name to its runs (each with ``data``, ``seed`` and the ``split``
    metrics). A row holds ``per_dataset`` (``data -> {"difference", "seeds"}``), ``n`` (data
    sets), ``mean``, ``std``, ``p_value``, ``level`` and ``confidence`` of its interval, ``low``,
    ``high``, ``margin`` and ``verdict``; in a family also Holm's ``step``, ``adjusted_p`` and ``rejected``.
    """
    rows = {}
    for comparison in comparisons:
        values = [{run_key(r): r[split][metric] for r in runs.get(name, ()) if metric in r[split]}
                  for name in comparison]
        per_dataset = dataset_differences(*values)
        test = t_test([entry["difference"] for entry in per_dataset.values()])
        rows[comparison.name] = {"setting": comparison.setting, "reference": comparison.reference,
                                 "metric": metric, "per_dataset": per_dataset, **test}
    corrections = holm({name: row["p_value"] for name, row in rows.items()}, alpha) if family else {}
    for name, row in rows.items():
        level = corrections[name]["level"] if family else alpha
        low, high = t_interval(row, level)
        row.update(corrections.get(name, {}))
        row.update(level=level, confidence=1 - level, low=low, high=high, margin=margin,
                   verdict=verdict(low, high, metric, margin))
    return rows


def format_comparison(row: Mapping[str, Any]) -> str:
    """``-0.012 [-0.020, -0.004] (n=5 data sets) better`` (three decimals), with Holm's adjusted p in a family."""
    if row["low"] is None:
        return f"{row['mean']:+.3f} (n={row['n']} data sets) {row['verdict']}"
    adjusted = f", adj. p {row['adjusted_p']:.3g}" if row.get("adjusted_p") is not None else ""
    return (f"{row['mean']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}] "
            f"({100 * row['confidence']:.4g} %, n={row['n']} data sets{adjusted}) {row['verdict']}")


def comparisons_markdown(rows: Iterable[Mapping[str, Any]]) -> str:
    """One line per row of ``compare_settings``: the data-set-level difference, its interval and verdict."""
    lines = ["| comparison | metric | mean [CI] (confidence, data sets) verdict |", "|---|---|---|"]
    lines += [f"| {Comparison(row['setting'], row['reference']).name} | {row['metric']} | {format_comparison(row)} |"
              for row in rows]
    return "\n".join(lines)
