"""Whether a model named on the command line can be loaded, told at once and in one line.

A name is a local folder or a Hub id. Loading a missing folder or an unreachable Hub id through
transformers costs half a minute or more of Hub retries and ends in an ``OSError`` that names
neither the flag nor the cause; :func:`check_model_source` answers before any work:

- a name that looks like a local path (see :func:`looks_like_local_path`) must be a folder;
- a Hub id is fine when its ``config.json`` is in the local Hugging Face cache; else, with
  ``HF_HUB_OFFLINE`` set, it is refused; else the Hub is asked once, without retries.

:func:`check_msmix_model` also reads the model's ``config.json``: another library's model (a
``bert`` config) and, with ``trust_remote_code``, a config without ``auto_map`` (no msmix code
to run; transformers would advise upgrading itself) are refused naming the flag.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
from transformers import PretrainedConfig

from modeling_msmix import BACKBONES

HUB_TIMEOUT_SECONDS = 10.0
LOCAL_FOLDER_ADVICE = "pass a local folder written by save_pretrained instead"


class ModelSourceError(ValueError):
    """A model name that is neither an existing folder nor a loadable Hub id; the message starts with its flag."""


def looks_like_local_path(value: str) -> bool:
    """Whether ``value`` names a local path rather than a Hub id (``user/name``): it starts with ``/``, ``.``
    or ``~``, holds a backslash or more than one ``/``, or its first part is an existing folder."""
    if value.startswith(("/", ".", "~")) or "\\" in value or value.count("/") > 1:
        return True
    return "/" in value and Path(value.split("/")[0]).is_dir()


def model_source_problem(name: str, revision: str | None = None, filename: str = "config.json") -> str | None:
    """Why the model ``name`` (at ``revision``) cannot be loaded, or ``None`` when it can be tried."""
    if Path(name).expanduser().is_dir():
        return None
    if looks_like_local_path(name):
        return "no such folder (a local path; Hub ids are 'user/name')"
    if isinstance(try_to_load_from_cache(name, filename, revision=revision), str):
        return None
    if constants.HF_HUB_OFFLINE:
        return ("not a local folder, and not in the Hugging Face cache while HF_HUB_OFFLINE is set; "
                f"{LOCAL_FOLDER_ADVICE}")
    try:
        get_hf_file_metadata(hf_hub_url(name, filename, revision=revision), timeout=HUB_TIMEOUT_SECONDS)
    except Exception as error:  # connection, HTTP and not-found errors all mean: cannot be loaded from the Hub
        return (f"not a local folder, and the Hub at {constants.ENDPOINT} cannot give it "
                f"({type(error).__name__}: {first_line(error)}); {LOCAL_FOLDER_ADVICE}")
    return None


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message (transformers' load errors go on with advice)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def check_model_source(flag: str, name: str, revision: str | None = None) -> None:
    """Raise :class:`ModelSourceError` ``"<flag> '<name>': <why>"`` when ``name`` cannot be loaded (see the module)."""
    problem = model_source_problem(name, revision)
    if problem is not None:
        raise ModelSourceError(f"{flag} {name!r}: {problem}")


def msmix_model_problem(name: str, trust_remote_code: bool = False) -> str | None:
    """Why the model ``name`` is not an msmix model that can be loaded (its ``config.json`` says), or ``None``."""
    try:
        config, _ = PretrainedConfig.get_config_dict(name)
    except OSError as error:
        return f"cannot be loaded: {first_line(error)}"
    model_type = config.get("model_type")
    msmix_types = sorted(config_class.model_type for config_class, _ in BACKBONES.values())
    if model_type not in msmix_types:
        return f"not an msmix model: its config.json has model_type {model_type!r}, not one of {msmix_types}"
    if trust_remote_code and "AutoModel" not in (config.get("auto_map") or {}):
        return ("its config.json has no auto_map, so the model carries no msmix remote code to trust: leave "
                "--trust_remote_code out to run the installed msmix, or save the model again with msmix "
                "(save_pretrained then writes the code and auto_map)")
    return None


def check_msmix_model(flag: str, name: str, trust_remote_code: bool = False) -> None:
    """:func:`check_model_source`, then refuse a model that is not msmix's (see :func:`msmix_model_problem`)."""
    check_model_source(flag, name)
    problem = msmix_model_problem(name, trust_remote_code)
    if problem is not None:
        raise ModelSourceError(f"{flag} {name!r}: {problem}")
