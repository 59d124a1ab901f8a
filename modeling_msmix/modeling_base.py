"""``MSAPreTrainedModel``: the shared forward of every msmix backbone, and ``MSAModelOutput``.

A backbone subclasses ``MSAPreTrainedModel`` and implements two methods:

- ``encode(text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
  input_ids=None, attention_mask=None) -> (z_t, z_a, z_v)``, each [B, d] or [B, T, d];
- ``fuse(z_t, z_a, z_v) -> (prediction [N, 1], aux_loss)``: a scalar tensor (the loss part ``aux``),
  a dict of named scalar tensors (one loss part each, named unlike ``task``, ``mixed`` and ``sal``) or None.

A backbone with losses over the batch (contrastive ones, say) overrides ``auxiliary_losses(states,
labels) -> {part name: weighted loss}``: in training it gets the B original rows' states, before
any mixing, and its parts join ``loss_parts`` under their own names. One whose 3-D states carry
steps the inputs do not have (a CLS token, say) overrides ``state_step_masks``.

Its ``__init__`` builds its layers, calls ``self.setup_augmentation((d_t, d_a, d_v))`` with the
last dims of its states, then ``self.post_init()``. The forward here encodes; in training mode
with labels, B >= 2 and an augmentation configured it mixes the states (MS-Mix or a baseline),
fuses the originals and the mixed rows in one pass, and adds the task, mixed, SAL and auxiliary
losses. Evaluation never mixes. With ``modality_dropout`` > 0, training first drops whole
modalities per sample (``modality_masks``; seeded from ``mix_seed``), as for a modality missing
at extraction time. MS-Mix receives which samples have which modality and, for backbones with
``sequence_states``, the step masks of the 3-D states, so that SIG and SASS ignore padding.
"""

import json
import os
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_base import MSAConfig
from .host_lengths import known_lengths
from .mixing_base import MixResult, RandomDraws, States
from .mixing_factory import build_augmentation
from .mixing_msmix import MSMix, StepMasks
from .modality_masks import drop_modalities, modality_present, random_modality_keep, row_seeds

MODALITY_NAMES = ("text", "audio", "vision")
MIXING_PREFIX = "augmentation."
LISTED_KEYS = 3


def check_loaded_keys(source: str, model_name: str, loading_info: dict, new_augmentation: bool) -> None:
    """Raise ``ValueError`` naming ``source`` and a few keys when the saved weights do not fit the model.

    ``loading_info`` is what ``from_pretrained(..., output_loading_info=True)`` returns. With
    ``new_augmentation``, keys of the mixing module (``augmentation.``) may be missing or unexpected.
    """
    problems = {
        "missing from the weights": sorted(loading_info.get("missing_keys", ())),
        "in the weights but not in the model": sorted(loading_info.get("unexpected_keys", ())),
        "of another shape": sorted(str(key[0]) for key in loading_info.get("mismatched_keys", ())),
    }
    if new_augmentation:
        problems = {what: [key for key in keys if not key.startswith(MIXING_PREFIX)] for what, keys in problems.items()}
    found = {what: keys for what, keys in problems.items() if keys}
    if found:
        details = "; ".join(f"{len(keys)} key(s) {what}, e.g. {keys[:LISTED_KEYS]}" for what, keys in found.items())
        raise ValueError(f"{source}: the weights do not fit the {model_name} its config.json describes ({details}); "
                         "the config and the weights come from different models")


@dataclass
class MSAModelOutput(ModelOutput):
    """Output of every msmix model.

    Attributes:
        loss: total loss (only when labels are given); the sum of ``loss_parts``.
        logits: predictions [B, 1] for the B input samples (never the mixed rows).
        loss_parts: weighted parts of the loss: ``task``, and when present ``mixed``, ``sal``, and ``aux``
            or the backbone's named auxiliary parts (from ``fuse`` or ``auxiliary_losses``).
        intensities: MS-Mix SIG intensities [B, 3] (t, a, v) when MS-Mix is configured.
        text_state, audio_state, vision_state: the unimodal states from ``encode``.
        mix_statistics: detached scalar summaries of this step's mixing (MS-Mix: mean ratio and
            intensity per modality, fraction of SASS pairs above the threshold), when it mixed.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    loss_parts: dict[str, torch.Tensor] | None = None
    intensities: torch.FloatTensor | None = None
    text_state: torch.FloatTensor | None = None
    audio_state: torch.FloatTensor | None = None
    vision_state: torch.FloatTensor | None = None
    mix_statistics: dict[str, torch.Tensor] | None = None


def regression_loss(loss_type: str):
    """Element-wise (``reduction='none'``) regression loss for ``l1`` or ``mse``."""
    if loss_type == "l1":
        return lambda prediction, target: F.l1_loss(prediction, target, reduction="none")
    return lambda prediction, target: F.mse_loss(prediction, target, reduction="none")


def mix_generator(mix_seed: torch.Tensor | int | None, device: torch.device) -> torch.Generator | None:
    """A generator on ``device`` seeded with ``mix_seed`` (one host read of the seed), or ``None``."""
    if mix_seed is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(int(mix_seed))
    return generator


class MSAPreTrainedModel(PreTrainedModel):
    """Base class of the msmix backbones: shared forward, mixing, losses and weight init."""

    config_class = MSAConfig
    base_model_prefix = "msa"
    main_input_name = "text_features"
    accepts_loss_kwargs = False
    sequence_states = False
    """True when ``encode`` returns 3-D states padded where the inputs are (their masks: ``state_step_masks``)."""

    def __init__(self, config: MSAConfig):
        super().__init__(config)
        self._augmentation_ready = False

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """transformers' ``from_pretrained``, refusing (with the file named) a local ``config.json`` of
        another backbone, an unreadable (truncated, empty) weights file, weights that do not fit the
        config's model (missing or unexpected keys: another backbone's weights under this config) and
        weights that are not finite.

        Only the mixing module's weights may differ, and only when ``config`` is passed with another
        augmentation than the saved one (fine-tuning with a new augmentation starts its module afresh).
        """
        source = str(pretrained_model_name_or_path)
        config_file = os.path.join(source, "config.json")
        saved_config = {}
        if os.path.isfile(config_file):
            with open(config_file, encoding="utf-8") as handle:
                saved_config = json.load(handle)
        expected = cls.config_class.model_type
        if expected and kwargs.get("config") is None and saved_config:
            saved = saved_config.get("model_type")
            if saved != expected:
                raise ValueError(f"{config_file} describes a {saved!r} model; {cls.__name__} loads {expected!r} models")
        wants_loading_info = kwargs.pop("output_loading_info", False)
        try:
            model, loading_info = super().from_pretrained(
                pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs
            )
        except SafetensorError as error:
            raise OSError(f"{source}: the weights file (model.safetensors) is unreadable, truncated or empty: {error}") from None
        new_augmentation = kwargs.get("config") is not None and (
            not saved_config or saved_config.get("augmentation") != getattr(kwargs["config"], "augmentation", None)
        )
        check_loaded_keys(source, type(model).__name__, loading_info, new_augmentation)
        model.check_finite_weights(f"{source} (model.safetensors)")
        return (model, loading_info) if wants_loading_info else model

    def check_finite_weights(self, source: str) -> None:
        """Raise ``ValueError`` naming ``source`` and the first tensor when any weight is NaN or infinite."""
        for name, tensor in self.state_dict().items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                bad = int((~torch.isfinite(tensor)).sum())
                raise ValueError(f"{source}: {bad} non-finite value(s) in {name!r}; the weights are corrupted")

    def load_state_dict(self, state_dict, *args, **kwargs):
        """``nn.Module.load_state_dict`` (used for Trainer checkpoints), refusing non-finite weights."""
        for name, tensor in state_dict.items():
            if torch.is_tensor(tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise ValueError(f"checkpoint weights: non-finite value(s) in {name!r}; the weights are corrupted")
        return super().load_state_dict(state_dict, *args, **kwargs)

    def setup_augmentation(self, state_dims: tuple[int, int, int]) -> None:
        """Build the configured mixing module for states whose last dims are ``state_dims``."""
        self.augmentation = build_augmentation(self.config, state_dims)
        self._augmentation_ready = True

    def post_init(self) -> None:
        """Check that the subclass built its mixing module, then run transformers' post_init."""
        if not self._augmentation_ready:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call self.setup_augmentation((d_t, d_a, d_v)) with the "
                "last dims of the states encode returns, before self.post_init()")
        super().post_init()

    def encode(self, text_features: torch.Tensor, audio_features: torch.Tensor, vision_features: torch.Tensor,
               text_mask: torch.Tensor, audio_mask: torch.Tensor, vision_mask: torch.Tensor,
               input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None) -> States:
        """Per-modality states (z_t, z_a, z_v), each [B, d] or [B, T, d]."""
        raise NotImplementedError(f"{type(self).__name__} must implement encode")

    def fuse(self, text_state: torch.Tensor, audio_state: torch.Tensor,
             vision_state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(prediction [N, 1], auxiliary loss: a scalar, a dict of named scalars, or None) for N rows of states."""
        raise NotImplementedError(f"{type(self).__name__} must implement fuse")

    def auxiliary_losses(self, states: States, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted training losses over the batch, by part name, from the B original rows' ``states``
        and ``labels`` [B] (never the mixed rows); none by default."""
        return {}

    def state_step_masks(self, states: States, masks: tuple[torch.Tensor, ...]) -> StepMasks:
        """Bool [B, T] real-step masks of the 3-D ``states`` (``None`` where a state has no steps aligned
        with its input's), from the input ``masks``; by default the input mask of each state with as
        many steps as its input."""
        return tuple(mask if state.dim() == 3 and state.shape[1] == mask.shape[1] else None
                     for state, mask in zip(states, masks))

    def _init_weights(self, module: nn.Module) -> None:
        """PyTorch's default initialisation, written with ``torch.nn.init``."""
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_uniform_(module.weight, a=5**0.5)
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                bound = 1 / fan_in**0.5 if fan_in > 0 else 0.0
                nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.MultiheadAttention):
            module._reset_parameters()
        elif isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
            bound = 1 / module.hidden_size**0.5
            for parameter in module.parameters():
                nn.init.uniform_(parameter, -bound, bound)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                nn.init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm1d)):
            if module.weight is not None:
                nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def _check_inputs(self, features: tuple[torch.Tensor, ...], masks: tuple[torch.Tensor | None, ...],
                      labels: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        expected = self.config.feature_dims
        batch_size = features[0].shape[0] if features[0].dim() > 0 else -1
        filled = []
        for name, tensor, mask, dim in zip(MODALITY_NAMES, features, masks, expected):
            if tensor.dim() != 3 or tensor.shape[0] != batch_size or tensor.shape[2] != dim:
                raise ValueError(
                    f"{name}_features must be [B, L, {dim}] with the batch size of text_features "
                    f"({batch_size}), got {tuple(tensor.shape)}")
            if mask is None:
                mask = torch.ones(tensor.shape[:2], dtype=torch.bool, device=tensor.device)
            elif tuple(mask.shape) != tuple(tensor.shape[:2]):
                raise ValueError(f"{name}_mask must be [B, L] = {tuple(tensor.shape[:2])}, got {tuple(mask.shape)}")
            filled.append(mask.bool())
        if labels is not None and labels.numel() != batch_size:
            raise ValueError(f"labels must hold one value per sample ({batch_size}), got shape {tuple(labels.shape)}")
        return tuple(filled)

    def _encode_checked(self, features, masks, input_ids, attention_mask) -> States:
        if not self._augmentation_ready:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call self.setup_augmentation(state_dims)")
        states = self.encode(*features, *masks, input_ids=input_ids, attention_mask=attention_mask)
        if len(states) != 3 or any(s.shape[0] != features[0].shape[0] for s in states):
            raise ValueError(f"{type(self).__name__}.encode must return three states with the batch axis first")
        return tuple(states)

    def _modality_dropout(self, features, masks, input_ids, attention_mask, mix_seed):
        """Drop each modality of each sample with probability ``config.modality_dropout`` (one always kept)."""
        base = int(mix_seed) if mix_seed is not None else int(torch.randint(2**62, (1,)))
        seeds = row_seeds(base, range(features[0].shape[0]), "modality_dropout")
        keep = random_modality_keep(seeds, float(self.config.modality_dropout))
        if attention_mask is None and getattr(self, "text_encoder", None) is not None and input_ids is not None:
            attention_mask = torch.ones_like(input_ids)
        return drop_modalities(features, masks, keep, attention_mask)

    def _modality_context(self, features, masks, states, input_ids, attention_mask
                          ) -> tuple[StepMasks, torch.Tensor]:
        """(step masks of the states or None, ``present`` [B, 3]) for MS-Mix."""
        present = [modality_present(feature, mask) for feature, mask in zip(features, masks)]
        if getattr(self, "text_encoder", None) is not None and input_ids is not None and attention_mask is not None:
            present[0] = attention_mask[:, 1:].bool().any(dim=1)
        step_masks = self.state_step_masks(states, masks) if self.sequence_states else None
        return step_masks, torch.stack(present, dim=1)

    def _adversarial_states(self, mix: MixResult, labels: torch.Tensor, loss_fn) -> MixResult:
        """Apply a gradient-based perturbation to the mixed states (AdvMixUp)."""
        leaves = tuple(state.detach().requires_grad_(True) for state in mix.mixed_states)
        with torch.enable_grad():
            prediction, _ = self.fuse(*leaves)
            gradients = torch.autograd.grad(mix.mixed_loss(prediction, labels, loss_fn), leaves)
        return replace(mix, mixed_states=self.augmentation.perturb(mix.mixed_states, gradients))

    def forward(
        self,
        text_features: torch.Tensor,
        audio_features: torch.Tensor,
        vision_features: torch.Tensor,
        text_mask: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        vision_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mix_seed: torch.Tensor | int | None = None,
        host_lengths: dict[str, list[int]] | None = None,
        unimodal_labels: torch.Tensor | None = None,
    ) -> MSAModelOutput:
        """Encode, mix in training (never in eval), fuse, and add up the losses.

        Args:
            text_features, audio_features, vision_features: [B, L_m, D_m] zero-padded features.
            text_mask, audio_mask, vision_mask: bool [B, L_m], True on real steps (all True if omitted).
            labels: [B] sentiment scores; the loss is computed only when given.
            input_ids, attention_mask: optional token ids for backbones with a text encoder.
            mix_seed: seeds the mixing draws (reproducible, independent of the process count).
            host_lengths: {modality: [B ints]} real steps per row, known on the host (from the
                collator); packed LSTMs then need no device-to-host copy.
            unimodal_labels: [B, 3] per-modality labels (t, a, v; CH-SIMS), the targets of MS-Mix's
                ``sal_target="per_sample"`` SAL; unused otherwise.
        """
        features = (text_features, audio_features, vision_features)
        masks = self._check_inputs(features, (text_mask, audio_mask, vision_mask), labels)
        lengths = [(host_lengths or {}).get(name) for name in MODALITY_NAMES]
        if self.training and self.config.modality_dropout > 0:
            features, masks, attention_mask = self._modality_dropout(features, masks, input_ids, attention_mask,
                                                                    mix_seed)
            lengths = [None, None, None]  # dropped rows no longer have the collator's lengths
        with known_lengths(masks, lengths):
            states = self._encode_checked(features, masks, input_ids, attention_mask)
        msmix_context = (self._modality_context(features, masks, states, input_ids, attention_mask)
                         if isinstance(self.augmentation, MSMix) else None)
        batch_size = text_features.shape[0]
        targets = labels.reshape(-1).to(states[0].dtype) if labels is not None else None
        loss_fn = regression_loss(self.config.loss_type)

        mix = None
        if self.training and self.augmentation is not None and targets is not None and batch_size >= 2:
            draws = RandomDraws(mix_generator(mix_seed, text_features.device), text_features.device)
            if msmix_context is not None:
                if unimodal_labels is not None and tuple(unimodal_labels.shape) != (batch_size, 3):
                    raise ValueError(f"unimodal_labels must be [B, 3] = [{batch_size}, 3], got {tuple(unimodal_labels.shape)}")
                mix = self.augmentation(states, targets, draws, *msmix_context, unimodal_labels=unimodal_labels)
            else:
                mix = self.augmentation(states, targets, draws)
            if self.augmentation.needs_loss_gradient:
                mix = self._adversarial_states(mix, targets, loss_fn)
            fuse_inputs = tuple(torch.cat([state, mixed]) for state, mixed in zip(states, mix.mixed_states))
        else:
            fuse_inputs = states
        prediction, aux_loss = self.fuse(*fuse_inputs)
        logits = prediction[:batch_size]

        intensities = None
        if mix is not None and mix.intensities is not None:
            intensities = mix.intensities
        elif msmix_context is not None:
            intensities = self.augmentation.intensities(states, *msmix_context)

        loss, loss_parts = None, None
        if targets is not None:
            loss_parts = {"task": loss_fn(logits.reshape(-1), targets).mean()}
            if mix is not None:
                mixed_loss = mix.mixed_loss(prediction[batch_size:], targets, loss_fn)
                loss_parts["mixed"] = self.config.mixed_loss_weight * mixed_loss
                if mix.extra_loss is not None:
                    loss_parts["sal"] = self.config.sal_loss_weight * mix.extra_loss
            if isinstance(aux_loss, dict):
                loss_parts.update(aux_loss)
            elif aux_loss is not None:
                loss_parts["aux"] = aux_loss
            if self.training:
                loss_parts.update(self.auxiliary_losses(states, targets))
            loss = sum(loss_parts.values())

        return MSAModelOutput(
            loss=loss,
            logits=logits,
            loss_parts=loss_parts,
            intensities=intensities,
            text_state=states[0],
            audio_state=states[1],
            vision_state=states[2],
            mix_statistics=mix.statistics if mix is not None else None,
        )

    @torch.no_grad()
    def predict_intensities(
        self,
        text_features: torch.Tensor,
        audio_features: torch.Tensor,
        vision_features: torch.Tensor,
        text_mask: torch.Tensor | None = None,
        audio_mask: torch.Tensor | None = None,
        vision_mask: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """MS-Mix SIG intensities [B, 3] (t, a, v) of a batch; requires ``augmentation="msmix"``."""
        if not isinstance(self.augmentation, MSMix):
            raise ValueError(f"intensities need augmentation='msmix', this model has {self.config.augmentation!r}")
        features = (text_features, audio_features, vision_features)
        masks = self._check_inputs(features, (text_mask, audio_mask, vision_mask), None)
        states = self._encode_checked(features, masks, input_ids, attention_mask)
        return self.augmentation.intensities(
            states, *self._modality_context(features, masks, states, input_ids, attention_mask))
