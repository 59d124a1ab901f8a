"""``BACKBONES``: backbone name -> (config class, model class), and their Auto-class registration."""

from transformers import AutoConfig, AutoModel, AutoProcessor

from .configuration_base import MSAConfig
from .modeling_base import MSAPreTrainedModel
from .processing_msmix import MSMixProcessor

BACKBONES: dict[str, tuple[type[MSAConfig], type[MSAPreTrainedModel]]] = {}


def register_backbone(name: str, config_class: type[MSAConfig], model_class: type[MSAPreTrainedModel]) -> None:
    """Add a backbone to ``BACKBONES`` and register it with ``AutoConfig``/``AutoModel``/``AutoProcessor``.

    ``register_for_auto_class`` makes ``save_pretrained`` write ``auto_map`` and copy the
    modeling (and processing) files, so a saved model also loads with ``trust_remote_code=True``
    where this package is not installed.
    """
    if model_class.config_class is not config_class:
        raise ValueError(f"{model_class.__name__}.config_class must be {config_class.__name__}")
    BACKBONES[name] = (config_class, model_class)
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, model_class, exist_ok=True)
    config_class.register_for_auto_class()
    model_class.register_for_auto_class("AutoModel")
    AutoProcessor.register(config_class, MSMixProcessor, exist_ok=True)
    MSMixProcessor.register_for_auto_class("AutoProcessor")
