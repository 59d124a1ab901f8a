"""``MSAConfig``: the configuration every msmix backbone config subclasses.

It holds what all backbones share: the input feature dims, the label range and dataset kind
(settable from a dataset's metadata dict), the regression loss, and the augmentation block
(which mixup runs between ``encode`` and ``fuse`` and its options). All fields are flat
dataclass attributes (transformers 5 configs are dataclasses), so they round-trip through
``save_pretrained``/``from_pretrained``/``to_json_string`` unchanged.

A backbone config subclasses it, sets ``model_type`` and declares its own fields::

    class TFNConfig(MSAConfig):
        model_type = "msmix_tfn"
        hidden_dim: int = 128

A subclass that defines ``__post_init__`` must call ``super().__post_init__(**kwargs)``.
"""

from collections.abc import Mapping
from typing import Any

from transformers import PretrainedConfig

from .augmentations import AUGMENTATIONS, option_defaults
from .mixing_msmix import SAL_TARGET_WEIGHTS

DATASET_KINDS: tuple[str, ...] = ("mosi", "mosei", "sims", "custom")
LOSS_TYPES: tuple[str, ...] = ("l1", "mse")
REFERENCE_LABEL_SCALE = 3.0


class MSAConfig(PretrainedConfig):
    """Shared configuration of the msmix MSA models.

    Args:
        text_dim, audio_dim, vision_dim: feature dimension of each input modality.
        label_min, label_max: the label range; ``label_scale`` (SPEC's R) derives from it.
        dataset_kind: ``mosi``, ``mosei``, ``sims`` or ``custom`` (decides the metric set).
        loss_type: the regression loss of the task and of the mixed samples, ``l1`` or ``mse``.
        dataset_metadata: a dict copy of the dataset's ``MSAMetadata`` (extractors, extraction
            settings, normalisation), kept with the model so a new video can be featurised alike.
        augmentation: a name registered in ``augmentations.py`` (``none | mixup | manifold_mixup |
            multimix | powmix | advmixup | msmix``); options that a registered augmentation
            declares with a default are settings of this config too.
        alpha: Beta(alpha, alpha) parameter of the mixing ratio (Dirichlet concentration for
            MultiMix).
        threshold: SASS similarity threshold delta on the min-max normalised similarity.
        num_mix: mixed samples per batch; ``None`` means the batch size B.
        mixed_loss_weight: weight of the mixed-sample loss.
        sal_weight: weight of MS-Mix's sentiment alignment loss; ``None`` (the default) takes the
            weight of ``sal_target`` (see ``sal_loss_weight``): 500 for ``batch_softmax`` (the
            reference's 1000 * 0.5), 1 for ``per_sample``.
        polarity_aware: SASS partners must share the sign of the label (``y >= 0``).
        reference_mode: reproduce the reference arithmetic (R = 3, candidate order and draws).
        sig_num_heads: attention heads of each SIG intensity predictor.
        advmixup_epsilon: size of AdvMixUp's adversarial step, relative to each state's RMS.
        modality_dropout: in training, drop each modality of each sample with this probability
            (at least one kept), as a modality missing at extraction; drawn from ``mix_seed``.
        use_sass: MS-Mix picks partners with SASS (``False``: random partners, ablation "no_sass").
        use_sig: MS-Mix ratios use SIG's intensities (``False``: the Beta draw alone, ablation "no_sig").
        sal_target: what SAL aligns SIG's intensities with. ``batch_softmax`` (the default, SPEC
            section 4): KL(P(y) || P(I_m)) of batch softmaxes. ``per_sample``: each sample's |I_m|
            against its own |y_m| (the unimodal label where the dataset has one, else the label), an
            L1 loss in label units, which pins the intensities' level (the batch softmax does not
            change when all |I_m| shift together, and SIG can settle at the tanh bound |I| = 3).
        sig_ratio_weights: the weights w_m of SPEC's lam_adapt. ``batch_minmax`` (the default,
            SPEC): the min-max of |I_m| over the batch, which stretches differences of 0.001 to
            [0, 1] and whose gradient grows as 1 / spread. ``intensity_scale``: w_m = |I_m| / 3.
        sass_threshold_quantile: ``None`` (the default, SPEC): SASS's candidates are the pairs above
            ``threshold`` (73-90 % of all pairs on MOSI-like data). ``q``: the top q of the batch's
            pairs by normalised similarity.
        sig_stop_gradient: SIG reads the states with stopped gradients, so SAL and the ratio path
            train the intensity predictors only, never the encoders and fusion (default ``False``,
            SPEC: nothing is detached).
        ratio_stop_gradient: the mixing ratios use detached intensities, so the mixed loss trains no
            intensity predictor (default ``False``, SPEC).
        ``augmentation="msmix"`` with every default is the paper's MS-Mix (SPEC section 4); the
        named variants (``msmix:stop_gradient``, ``msmix:per_sample_sal``, ``msmix:reference`` and
        the ablations ``msmix:no_*``) each change the settings their names say.
    """

    model_type = "msmix_base"
    keys_to_ignore_at_inference = ["loss_parts", "intensities", "text_state", "audio_state", "vision_state"]

    text_dim: int = 768
    audio_dim: int = 5
    vision_dim: int = 20
    label_min: float | int = -3.0
    label_max: float | int = 3.0
    dataset_kind: str = "mosi"
    loss_type: str = "l1"
    dataset_metadata: dict | None = None
    augmentation: str = "msmix"
    alpha: float | int = 2.0
    threshold: float | int = 0.4
    num_mix: int | None = None
    mixed_loss_weight: float | int = 0.7
    sal_weight: float | int | None = None
    polarity_aware: bool = False
    reference_mode: bool = False
    sig_num_heads: int = 4
    advmixup_epsilon: float | int = 0.1
    modality_dropout: float | int = 0.0
    use_sass: bool = True
    use_sig: bool = True

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        for name, value in option_defaults().items():
            if not hasattr(self, name):
                setattr(self, name, value)
        self.check_msa_settings()

    def check_msa_settings(self) -> None:
        """Raise ``ValueError`` naming the field when a shared setting is invalid."""
        for name in ("text_dim", "audio_dim", "vision_dim", "sig_num_heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not float(self.label_min) < float(self.label_max):
            raise ValueError(f"label_min ({self.label_min}) must be below label_max ({self.label_max})")
        if self.dataset_kind not in DATASET_KINDS:
            raise ValueError(f"dataset_kind must be one of {DATASET_KINDS}, got {self.dataset_kind!r}")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {self.loss_type!r}")
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be one of {list(AUGMENTATIONS)}, got {self.augmentation!r}")
        if not float(self.alpha) > 0:
            raise ValueError(f"alpha must be positive, got {self.alpha!r}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {self.threshold!r}")
        if self.num_mix is not None and (isinstance(self.num_mix, bool) or self.num_mix < 1):
            raise ValueError(f"num_mix must be a positive integer or None (= batch size), got {self.num_mix!r}")
        for name in ("mixed_loss_weight", "sal_weight", "advmixup_epsilon"):
            if getattr(self, name) is not None and float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.modality_dropout) < 1.0:
            raise ValueError(f"modality_dropout must lie in [0, 1), got {self.modality_dropout!r}")
        if self.dataset_metadata is not None and not isinstance(self.dataset_metadata, Mapping):
            raise ValueError(f"dataset_metadata must be a dict or None, got {type(self.dataset_metadata).__name__}")
        augmentation = AUGMENTATIONS[self.augmentation]
        if augmentation.check is not None:
            augmentation.check(self)

    @property
    def label_scale(self) -> float:
        """SPEC's R: the largest absolute label value (always 3 in reference mode)."""
        if self.reference_mode:
            return REFERENCE_LABEL_SCALE
        return float(max(abs(float(self.label_min)), abs(float(self.label_max))))

    @property
    def sal_loss_weight(self) -> float:
        """The weight SAL gets: ``sal_weight``, or when it is ``None`` the weight of ``sal_target``."""
        if self.sal_weight is not None:
            return float(self.sal_weight)
        return SAL_TARGET_WEIGHTS[getattr(self, "sal_target", "batch_softmax")]

    @property
    def feature_dims(self) -> tuple[int, int, int]:
        """``(text_dim, audio_dim, vision_dim)``."""
        return (self.text_dim, self.audio_dim, self.vision_dim)

    def apply_dataset_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Set dims, label range, dataset kind and ``dataset_metadata`` from a metadata dict.

        ``metadata`` is the dict form of ``data_processing.schema.MSAMetadata`` (``to_dict()``).
        """
        missing = [k for k in ("dataset_kind", "label_min", "label_max", "text_dim", "audio_dim", "vision_dim")
                   if k not in metadata]
        if missing:
            raise ValueError(f"dataset metadata lacks the keys {missing}")
        self.text_dim = int(metadata["text_dim"])
        self.audio_dim = int(metadata["audio_dim"])
        self.vision_dim = int(metadata["vision_dim"])
        self.label_min = float(metadata["label_min"])
        self.label_max = float(metadata["label_max"])
        self.dataset_kind = str(metadata["dataset_kind"])
        self.dataset_metadata = dict(metadata)
        self.check_msa_settings()

    @classmethod
    def from_dataset_metadata(cls, metadata: Mapping[str, Any], **kwargs: Any) -> "MSAConfig":
        """A config of this class with ``kwargs`` and the dataset's dims/labels/kind applied."""
        config = cls(**kwargs)
        config.apply_dataset_metadata(metadata)
        return config
