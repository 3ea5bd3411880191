"""Loading a SigLIP model with open_clip: hub weights, a local checkpoint, or the tiny test model.

Three sources, picked from :class:`~pipeline.settings.SiglipSettings`:

- ``SIGLIP_CHECKPOINT``: an open_clip ``local-dir`` folder (``open_clip_config.json`` with
  ``model_cfg`` and ``preprocess_cfg``, plus the weights file); nothing is downloaded.
- ``SIGLIP_MODEL=tiny``: a SigLIP-family config shipped in this package (768-d output,
  sigmoid logit scale/bias, open_clip's bundled BPE vocabulary), seeded, untrained:
  for tests and offline demos only, useless for search quality.
- otherwise ``SIGLIP_MODEL`` + ``SIGLIP_PRETRAINED`` through the Hugging Face hub, as
  open_clip does (weights cached under ``HF_HOME``). With ``HF_HUB_OFFLINE=1`` and no
  cached weights this stops with a :class:`ConfigError` that says what to set instead.
  ``SIGLIP_MODEL=ViT-B-16-SigLIP-i18n-256`` (open_clip's multilingual SigLIP, 768-d, same
  ``webli`` tag) takes this path too and is the recommended model for non-English
  catalogs (see docs/search.md).

SigLIP's preprocessing is applied explicitly (see :mod:`pipeline.embedding.images`):
open_clip falls back to CLIP's mean/std and shortest-side crop when weights are local.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.pretrained import get_pretrained_cfg

from pipeline.embedding.images import PreprocessSpec
from pipeline.embedding.weights import WEIGHT_FILES
from pipeline.errors import BackendUnavailable, ConfigError
from pipeline.settings import SiglipSettings

logger = logging.getLogger(__name__)

TINY_NAME = "catalog-sync-tiny"
TINY_SEED = 20240601
TINY_LABEL = "tiny (untrained test model: useless for search quality)"
_TINY_CONFIG = Path(__file__).parent / "configs" / f"{TINY_NAME}.json"
_LOCAL_PREFIX = "local-dir:"
_WEIGHT_FILES = WEIGHT_FILES

Tokenize = Callable[[list[str]], torch.Tensor]


@dataclass
class LoadedSiglip:
    """A model ready for inference (eval mode, on CPU) and what goes with it."""

    model: torch.nn.Module
    tokenize: Tokenize
    spec: PreprocessSpec
    name: str
    dim: int
    context_length: int
    model_cfg: dict[str, Any] = field(repr=False)
    trained: bool = True


def load_siglip(cfg: SiglipSettings, *, random_weights: bool = False) -> LoadedSiglip:
    """Load the model the settings name.

    ``random_weights`` builds the named architecture untrained (speed benchmarks only;
    its tokenizer is then a stand-in of the right shape).
    Raises ConfigError for a bad name, tag or checkpoint, or weights missing offline;
    BackendUnavailable when the hub cannot be reached.
    """
    if cfg.checkpoint:
        return _load_local_dir(cfg.checkpoint)
    if cfg.is_tiny:
        return load_tiny()
    if random_weights:
        return _load_random(cfg.model)
    return _load_from_hub(cfg.model, cfg.pretrained)


def load_tiny() -> LoadedSiglip:
    """The tiny SigLIP-family model: same interface, seeded, untrained, no files needed."""
    if TINY_NAME not in open_clip.list_models():
        open_clip.add_model_config(_TINY_CONFIG)  # registered at run time, idempotent
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's RNG
        torch.manual_seed(TINY_SEED)
        model = open_clip.create_model(TINY_NAME, pretrained=None)
    model_cfg = json.loads(_TINY_CONFIG.read_text())
    context = int(model_cfg["text_cfg"]["context_length"])
    logger.warning("loaded %s", TINY_LABEL)
    return _ready(
        model,
        open_clip.SimpleTokenizer(context_length=context),
        PreprocessSpec(size=int(model_cfg["vision_cfg"]["image_size"])),
        name=TINY_LABEL,
        model_cfg=model_cfg,
        trained=False,
    )


def save_local_dir(loaded: LoadedSiglip, directory: Path) -> Path:
    """Write ``loaded`` in open_clip's local-dir layout (config + safetensors weights).

    The result is what ``SIGLIP_CHECKPOINT`` takes: copy it to an offline machine.
    """
    from safetensors.torch import save_model

    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": loaded.model_cfg,
        "preprocess_cfg": {**asdict(loaded.spec), "mean": list(loaded.spec.mean)},
    }
    config["preprocess_cfg"]["std"] = list(loaded.spec.std)
    (directory / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    save_model(loaded.model, str(directory / _WEIGHT_FILES[0]))
    return directory


def _load_local_dir(checkpoint: str) -> LoadedSiglip:
    path = Path(checkpoint.removeprefix(_LOCAL_PREFIX)).expanduser()
    config_path = path / "open_clip_config.json"
    if not config_path.is_file():
        raise ConfigError(
            f"SIGLIP_CHECKPOINT: {path} is not an open_clip local-dir checkpoint "
            "(open_clip_config.json missing)"
        )
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        raise ConfigError(f"SIGLIP_CHECKPOINT: no weights ({' or '.join(_WEIGHT_FILES)}) in {path}")
    try:
        config = json.loads(config_path.read_text())
        model_cfg = dict(config["model_cfg"])
        model = open_clip.create_model(f"{_LOCAL_PREFIX}{path}")
        tokenizer = open_clip.get_tokenizer(f"{_LOCAL_PREFIX}{path}")
    except ImportError as exc:
        raise ConfigError(f"SIGLIP_CHECKPOINT {path}: {exc}; pip install transformers") from exc
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ConfigError(f"SIGLIP_CHECKPOINT: cannot load {path}: {exc}") from exc
    spec = _spec_from(config.get("preprocess_cfg", {}), _image_size(model))
    return _ready(model, tokenizer, spec, name=f"local-dir:{path}", model_cfg=model_cfg)


def _load_from_hub(name: str, tag: str) -> LoadedSiglip:
    if name not in open_clip.list_models():
        raise ConfigError(f"SIGLIP_MODEL: unknown open_clip model {name!r}")
    pretrained_cfg = get_pretrained_cfg(name, tag)
    if not pretrained_cfg:
        known = open_clip.list_pretrained_tags_by_model(name)
        raise ConfigError(f"SIGLIP_PRETRAINED: {tag!r} is not a tag of {name} (known: {known})")
    weights = _hub_weights(name, tag, str(pretrained_cfg.get("hf_hub", "")))
    try:
        model = open_clip.create_model(name, pretrained=weights or tag)
        tokenizer = open_clip.get_tokenizer(name)
    except ImportError as exc:
        raise ConfigError(f"{name} needs its Hugging Face tokenizer: {exc}") from exc
    except (OSError, ValueError) as exc:
        if _offline():
            raise ConfigError(_offline_message(name, tag, str(exc))) from exc
        raise BackendUnavailable(f"cannot load {name}/{tag}: {exc}") from exc
    except RuntimeError as exc:
        raise BackendUnavailable(f"cannot load {name}/{tag}: {exc}") from exc
    spec = _spec_from(pretrained_cfg, _image_size(model))
    model_cfg = open_clip.get_model_config(name) or {}
    return _ready(model, tokenizer, spec, name=f"{name}/{tag}", model_cfg=model_cfg)


def _hub_weights(name: str, tag: str, hf_hub: str) -> str | None:
    """The cached (or downloaded) weights file; None when the tag is not on the HF hub.

    Raises ConfigError offline with nothing cached, BackendUnavailable when the hub fails.
    """
    if not hf_hub:
        return None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    # open_clip's convention: "org/repo/file" names a file, "org/repo/" the default names.
    repo_id, filename = posixpath.split(hf_hub)
    candidates = [filename] if filename else list(_WEIGHT_FILES)
    offline = _offline()
    last: Exception | None = None
    for candidate in candidates:
        try:
            # HF_HUB_CACHE read now, not at hub import time, so it can be set per process.
            cache_dir = os.environ.get("HF_HUB_CACHE") or None
            path = hf_hub_download(
                repo_id, candidate, local_files_only=offline, cache_dir=cache_dir
            )
            return str(path)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
            last = exc
        except Exception as exc:  # the hub client raises many kinds; keep the last
            last = exc
    if offline or isinstance(last, LocalEntryNotFoundError | OfflineModeIsEnabled):
        raise ConfigError(_offline_message(name, tag, str(last))) from last
    raise BackendUnavailable(f"cannot fetch {name}/{tag} weights from {repo_id}: {last}") from last


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _offline_message(name: str, tag: str, detail: str) -> str:
    return (
        f"SigLIP weights {name}/{tag} are not available: the Hugging Face hub is offline "
        f"(HF_HUB_OFFLINE) and nothing is cached ({detail.splitlines()[0][:200]}). "
        "Set SIGLIP_CHECKPOINT to an open_clip local-dir checkpoint, or SIGLIP_MODEL=tiny "
        "for tests (untrained, useless for search quality)."
    )


def _load_random(name: str) -> LoadedSiglip:
    if name not in open_clip.list_models():
        raise ConfigError(f"SIGLIP_MODEL: unknown open_clip model {name!r}")
    model_cfg = open_clip.get_model_config(name) or {}
    text_cfg = model_cfg.get("text_cfg", {})
    context = int(text_cfg.get("context_length", 64))
    vocab = int(text_cfg.get("vocab_size", 49408))
    model = open_clip.create_model(name, pretrained=None)
    base = open_clip.SimpleTokenizer(context_length=context)

    def tokenize(texts: list[str]) -> torch.Tensor:
        # Speed stand-in: the real tokenizer may need the hub; only the shape matters here.
        tokens: torch.Tensor = base(texts)
        return tokens % vocab

    spec = PreprocessSpec(size=_image_size(model))
    return _ready(model, tokenize, spec, name=f"{name} (random weights)", model_cfg=model_cfg,
                  trained=False)  # fmt: skip


def _spec_from(preprocess: dict[str, Any], size: int) -> PreprocessSpec:
    """SigLIP defaults, overridden by what the checkpoint or tag states."""
    defaults = PreprocessSpec(size=size)
    mean = preprocess.get("mean", defaults.mean)
    std = preprocess.get("std", defaults.std)
    return PreprocessSpec(
        size=size,
        mean=(float(mean[0]), float(mean[1]), float(mean[2])),
        std=(float(std[0]), float(std[1]), float(std[2])),
        interpolation=str(preprocess.get("interpolation", defaults.interpolation)),
        resize_mode=str(preprocess.get("resize_mode", defaults.resize_mode)),
    )


def _image_size(model: torch.nn.Module) -> int:
    size = getattr(getattr(model, "visual", None), "image_size", 224)
    side = size[0] if isinstance(size, tuple | list) else size
    return int(side)


def _ready(
    model: torch.nn.Module,
    tokenize: Tokenize,
    spec: PreprocessSpec,
    *,
    name: str,
    model_cfg: dict[str, Any],
    trained: bool = True,
) -> LoadedSiglip:
    model.eval()
    model.requires_grad_(False)
    text_cfg = model_cfg.get("text_cfg", {})
    return LoadedSiglip(
        model=model,
        tokenize=tokenize,
        spec=spec,
        name=name,
        dim=int(model_cfg.get("embed_dim", 768)),
        context_length=int(text_cfg.get("context_length", 64)),
        model_cfg=model_cfg,
        trained=trained,
    )
