"""The loader and the runner on the tiny model: checkpoints, offline errors, vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.embedding.images import PreprocessSpec
from pipeline.embedding.models import TINY_LABEL, LoadedSiglip, load_siglip, save_local_dir
from pipeline.embedding.runner import SiglipRunner, resolve_device
from pipeline.errors import ConfigError
from pipeline.settings import Settings

pytestmark = pytest.mark.slow  # model loads (a few seconds each on a busy machine)


def pixels(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)


def test_tiny_model_is_labelled_and_shaped_like_siglip(tiny_model: LoadedSiglip) -> None:
    assert tiny_model.name == TINY_LABEL and "useless for search quality" in tiny_model.name
    assert not tiny_model.trained
    assert tiny_model.dim == 768
    assert tiny_model.spec == PreprocessSpec(size=224)  # SigLIP's: 0.5/0.5, bicubic, squash
    model = tiny_model.model
    assert float(model.logit_bias) == pytest.approx(-10.0)  # type: ignore[arg-type]
    assert float(model.logit_scale.exp()) == pytest.approx(10.0)  # type: ignore[operator]


def test_tiny_model_is_seeded(tiny_model: LoadedSiglip) -> None:
    again = load_siglip(Settings.defaults().siglip.model_copy(update={"model": "tiny"}))
    first = SiglipRunner(tiny_model, device="cpu", precision="fp32")
    second = SiglipRunner(again, device="cpu", precision="fp32")
    batch = pixels(0, 2)
    np.testing.assert_allclose(first.embed_pixels(batch), second.embed_pixels(batch), atol=1e-6)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_runner_vectors_are_normalized_and_deterministic(
    tiny_model: LoadedSiglip, precision: str
) -> None:
    runner = SiglipRunner(tiny_model, device="cpu", precision=precision)
    batch = pixels(1, 3)
    a = runner.embed_pixels(batch)
    b = runner.embed_pixels(batch)
    assert a.shape == (3, 768) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-6)
    # Batch composition must not change a row (beyond bf16 rounding).
    alone = runner.embed_pixels(batch[1:2])
    np.testing.assert_allclose(alone[0], a[1], atol=2e-2 if precision == "bf16" else 1e-5)
    texts = runner.embed_texts(["red leather shoes", "a blue ceramic mug", ""])
    assert texts.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(texts[0], texts[1])
    assert runner.embed_texts([]).shape == (0, 768)
    assert runner.embed_pixels(batch[:0]).shape == (0, 768)


def test_local_checkpoint_round_trip(tiny_model: LoadedSiglip, tmp_path: Path) -> None:
    directory = save_local_dir(tiny_model, tmp_path / "siglip-tiny")
    config = json.loads((directory / "open_clip_config.json").read_text())
    assert config["preprocess_cfg"]["mean"] == [0.5, 0.5, 0.5]
    assert (directory / "open_clip_model.safetensors").stat().st_size > 100_000

    settings = Settings.defaults().with_overrides(siglip={"checkpoint": f"local-dir:{directory}"})
    loaded = load_siglip(settings.siglip)
    assert loaded.name == f"local-dir:{directory}"
    assert loaded.spec == tiny_model.spec and loaded.dim == 768
    original = SiglipRunner(tiny_model, device="cpu", precision="fp32")
    restored = SiglipRunner(loaded, device="cpu", precision="fp32")
    batch = pixels(2, 2)
    np.testing.assert_allclose(
        original.embed_pixels(batch), restored.embed_pixels(batch), atol=1e-6
    )
    words = ["linen shirt", "brass lamp"]
    np.testing.assert_allclose(original.embed_texts(words), restored.embed_texts(words), atol=1e-6)


def test_checkpoint_preprocess_config_is_honoured(tiny_model: LoadedSiglip, tmp_path: Path) -> None:
    directory = save_local_dir(tiny_model, tmp_path / "ck")
    config = json.loads((directory / "open_clip_config.json").read_text())
    config["preprocess_cfg"].update(mean=[0.4, 0.4, 0.4], resize_mode="shortest")
    (directory / "open_clip_config.json").write_text(json.dumps(config))
    loaded = load_siglip(
        Settings.defaults().siglip.model_copy(update={"checkpoint": str(directory)})
    )
    assert loaded.spec.mean == (0.4, 0.4, 0.4) and loaded.spec.resize_mode == "shortest"


def test_bad_checkpoints_say_what_is_missing(tmp_path: Path) -> None:
    base = Settings.defaults().siglip
    with pytest.raises(ConfigError, match="open_clip_config.json missing"):
        load_siglip(base.model_copy(update={"checkpoint": str(tmp_path)}))
    (tmp_path / "open_clip_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no weights"):
        load_siglip(base.model_copy(update={"checkpoint": str(tmp_path)}))


def test_offline_without_weights_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ConfigError) as info:
        load_siglip(Settings.defaults().siglip)  # ViT-B-16-SigLIP / webli
    message = str(info.value)
    assert "ViT-B-16-SigLIP/webli" in message and "offline" in message
    assert "SIGLIP_CHECKPOINT" in message and "SIGLIP_MODEL=tiny" in message


def test_unknown_model_or_tag_is_a_config_error() -> None:
    base = Settings.defaults().siglip
    with pytest.raises(ConfigError, match="unknown open_clip model"):
        load_siglip(base.model_copy(update={"model": "ViT-Nope"}))
    with pytest.raises(ConfigError, match="not a tag of ViT-B-16-SigLIP"):
        load_siglip(base.model_copy(update={"pretrained": "nonsense"}))


def test_device_resolution() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="SIGLIP_DEVICE"):
        resolve_device("tpu")


def test_multilingual_model_goes_through_the_same_loading_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The recommended model for non-English catalogs: known to open_clip with its webli
    # tag; offline and uncached it stops with the same clear error (weights cannot be
    # fetched in this environment, so nothing here loads them).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    siglip = Settings.defaults().siglip.model_copy(update={"model": "ViT-B-16-SigLIP-i18n-256"})
    with pytest.raises(ConfigError) as info:
        load_siglip(siglip)
    message = str(info.value)
    assert "ViT-B-16-SigLIP-i18n-256/webli" in message and "offline" in message
