"""Whether SigLIP weights are at hand: asked before a command loads a model, so answered
without importing torch or open_clip whenever the file system already says no (importing
open_clip costs seconds; ``catalog-sync search`` answers in less)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from pipeline.settings import SiglipSettings

WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def hub_cache() -> Path:
    """The Hugging Face hub cache, as the hub client resolves it (HF_HUB_CACHE, HF_HOME,
    XDG_CACHE_HOME), read now rather than when the hub was imported."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def any_weights_cached(cache: Path) -> bool:
    """Whether any model in the hub cache has a weights file. False proves that no
    open_clip weights are cached (every open_clip hub tag names such a file)."""
    return any(path.suffix in _WEIGHT_SUFFIXES for path in cache.glob("models--*/snapshots/*/*"))


def weights_available(cfg: SiglipSettings) -> bool:
    """Whether ``load_siglip(cfg)`` can load without the network: the tiny model, a
    local checkpoint, or hub weights already in the Hugging Face cache. Never downloads;
    imports open_clip only when the cache holds some weights."""
    if cfg.is_tiny:
        return True
    if cfg.checkpoint:
        path = Path(cfg.checkpoint.removeprefix("local-dir:"))
        return any((path / name).is_file() for name in WEIGHT_FILES)
    cache = hub_cache()
    if not any_weights_cached(cache):
        return False
    from huggingface_hub import try_to_load_from_cache
    from open_clip.pretrained import get_pretrained_cfg

    pretrained_cfg = get_pretrained_cfg(cfg.model, cfg.pretrained) or {}
    repo_id, filename = posixpath.split(str(pretrained_cfg.get("hf_hub", "")))
    if not repo_id:
        return False
    return any(
        isinstance(try_to_load_from_cache(repo_id, name, cache_dir=str(cache)), str)
        for name in ([filename] if filename else WEIGHT_FILES)
    )
