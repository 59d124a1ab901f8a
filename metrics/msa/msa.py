"""MSA metrics as an ``evaluate`` module: ``evaluate.load("<repo>/metrics/msa", "mosi")``.

The configuration name picks the metric set (``mosi``, ``mosei``, ``custom`` or ``sims``); the
numbers come from :func:`trainer.metrics.compute_msa_metrics`, so the package must be installed.
"""

import datasets
import evaluate

from trainer.metrics import compute_msa_metrics

_DESCRIPTION = """Standard multimodal sentiment analysis metrics: binary accuracy/F1 with and without
zero labels, 5- and 7-class accuracy, MAE and Pearson correlation for MOSI/MOSEI; 2/3/5-class
accuracy, F1, MAE and correlation for CH-SIMS."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted sentiment scores (floats).
    references: true sentiment scores (floats).
Returns:
    dict of metric name -> float (Corr is NaN when an input is constant).
Example:
    >>> msa = evaluate.load("metrics/msa", "mosi")
    >>> msa.compute(predictions=[0.5, -1.2], references=[0.4, -1.0])["Has0_acc_2"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Msa(evaluate.Metric):
    """The field's standard MOSI/MOSEI/SIMS metrics."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float32"), "references": datasets.Value("float32")}
            ),
        )

    def _compute(self, predictions, references):
        kind = self.config_name if self.config_name != "default" else "mosi"
        return compute_msa_metrics(predictions, references, kind)
