"""MS-Mix and the MSA backbones as Hugging Face ``PreTrainedModel`` classes, with their processor
and ``multimodal-sentiment`` pipeline: the complete bundle a published model carries as remote code.

Each backbone registers with one ``_add_backbone(name, ConfigClass name, ModelClass name)`` line
below; its classes live in ``configuration_<name>.py`` and ``modeling_<name>.py``. Importing this
package registers ``MSMixProcessor`` with ``AutoProcessor`` (see ``registry.py``) and the
``multimodal-sentiment`` task with ``transformers.pipeline``, so local models need no remote code.
Augmentations register in ``augmentations.py`` (one ``register_augmentation`` line each).
"""

from importlib import import_module

from transformers import AutoModel
from transformers.pipelines import PIPELINE_REGISTRY

from .augmentations import (
    AUGMENTATIONS,
    VARIANTS,
    augmentation_names,
    augmentation_of,
    augmentation_title,
    register_augmentation,
    register_variant,
    resolve_augmentation,
    unread_options,
)
from .configuration_base import MSAConfig
from .mixing_factory import build_augmentation
from .modeling_base import MSAModelOutput, MSAPreTrainedModel
from .pipeline_msmix import TASK, MultimodalSentimentPipeline
from .processing_msmix import MSMixProcessor
from .registry import BACKBONES, register_backbone

__all__ = [
    "AUGMENTATIONS",
    "BACKBONES",
    "VARIANTS",
    "augmentation_names",
    "augmentation_of",
    "augmentation_title",
    "register_augmentation",
    "register_variant",
    "resolve_augmentation",
    "unread_options",
    "MSAConfig",
    "MSAModelOutput",
    "MSAPreTrainedModel",
    "MSMixProcessor",
    "MultimodalSentimentPipeline",
    "TASK",
    "build_augmentation",
    "register_backbone",
]


def _add_backbone(name: str, config_name: str, model_name: str) -> None:
    config_class = getattr(import_module(f".configuration_{name}", __name__), config_name)
    model_class = getattr(import_module(f".modeling_{name}", __name__), model_name)
    register_backbone(name, config_class, model_class)
    globals().update({config_name: config_class, model_name: model_class})
    __all__.extend([config_name, model_name])


_add_backbone("tfn", "TFNConfig", "TFNModel")
_add_backbone("lmf", "LMFConfig", "LMFModel")
_add_backbone("mult", "MulTConfig", "MulTModel")
_add_backbone("misa", "MISAConfig", "MISAModel")
_add_backbone("almt", "ALMTConfig", "ALMTModel")
_add_backbone("glomo", "GLoMoConfig", "GLoMoModel")
_add_backbone("lnln", "LNLNConfig", "LNLNModel")
_add_backbone("dashfusion", "DashFusionConfig", "DashFusionModel")

PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=MultimodalSentimentPipeline, pt_model=AutoModel,
                                    type="multimodal")
