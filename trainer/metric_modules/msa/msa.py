"""MSA metrics as an ``evaluate`` module: ``evaluate.load(msa_metric_path(), "mosi")``.

``trainer.metrics.msa_metric_path()`` gives this folder's installed location, so the module
loads from any working directory. The configuration name picks the metric set (``mosi``,
``mosei``, ``custom`` or ``sims``). Inputs are stored as float64 and the numbers come from
:func:`trainer.metrics.compute_msa_metrics`, so both agree exactly (float32 storage would move
values such as 0.1 across the CH-SIMS bin edges).
"""

import datasets
import evaluate

from hub_cards.citations import DATASET_CITATIONS
from trainer.metrics import compute_msa_metrics

_CITATION = "\n".join(DATASET_CITATIONS[kind] for kind in ("mosi", "sims")) + "\n"

_DESCRIPTION = """Standard multimodal sentiment analysis metrics: binary accuracy/F1 with and without
zero labels, 5- and 7-class accuracy, MAE and Pearson correlation for MOSI/MOSEI; 2/3/5-class
accuracy, F1, MAE and correlation on values clipped to [-1, 1] for CH-SIMS."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted sentiment scores (floats, stored as float64).
    references: true sentiment scores (floats, stored as float64).
Returns:
    dict of metric name -> float (Corr is NaN when an input is constant).
Example:
    >>> import evaluate
    >>> from trainer.metrics import msa_metric_path
    >>> msa = evaluate.load(msa_metric_path(), "mosi")
    >>> msa.compute(predictions=[0.5, -1.2], references=[0.4, -1.0])["Has0_acc_2"]
    1.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Msa(evaluate.Metric):
    """The field's standard MOSI/MOSEI/SIMS metrics."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
        )

    def _compute(self, predictions, references):
        kind = self.config_name if self.config_name != "default" else "mosi"
        return compute_msa_metrics(predictions, references, kind)
