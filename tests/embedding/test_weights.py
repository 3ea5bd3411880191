"""Whether SigLIP weights are at hand, asked before anything loads: an empty Hugging Face
cache answers without importing open_clip or torch; cached weights are found where the
hub client would find them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.embedding.weights import weights_available
from pipeline.settings import Settings

CHECK = """
import sys
from pipeline.embedding.weights import weights_available
from pipeline.settings import Settings
print(weights_available(Settings.defaults().siglip))
print(sorted(m for m in ("open_clip", "torch") if m in sys.modules))
"""


def test_an_empty_cache_says_no_without_importing_open_clip(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False", "[]"]


def test_cached_hub_weights_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Settings.defaults().siglip  # ViT-B-16-SigLIP / webli: timm/ViT-B-16-SigLIP
    repo = tmp_path / "models--timm--ViT-B-16-SigLIP"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    (repo / "snapshots" / "c0ffee").mkdir(parents=True)
    (repo / "snapshots" / "c0ffee" / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c0ffee")
    assert not weights_available(cfg)  # no weights file yet
    (repo / "snapshots" / "c0ffee" / "open_clip_model.safetensors").write_bytes(b"x")
    assert weights_available(cfg)
    other = cfg.model_copy(update={"model": "ViT-B-16-SigLIP-256"})
    assert not weights_available(other)  # another model's weights are not these


def test_tiny_and_local_checkpoints_need_no_cache(tmp_path: Path) -> None:
    base = Settings.defaults().siglip
    assert weights_available(base.model_copy(update={"model": "tiny"}))
    assert not weights_available(base.model_copy(update={"checkpoint": str(tmp_path)}))
    (tmp_path / "open_clip_pytorch_model.bin").write_bytes(b"x")
    assert weights_available(base.model_copy(update={"checkpoint": str(tmp_path)}))
