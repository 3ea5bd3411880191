"""Runs a loaded SigLIP model: pixels or texts in, L2-normalized float32 vectors out.

Synchronous and not thread-safe on purpose: one runner belongs to one model thread (see
:class:`~pipeline.embedding.local.LocalSiglipEmbedder`). On a GPU it runs under bf16
autocast; on a CPU it uses bf16 autocast where the CPU has native bf16 (AVX512-BF16 or
AMX: 2-4x faster than fp32 there) and fp32 elsewhere, since emulated bf16 is slower.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from pipeline.embedding.base import Vectors
from pipeline.embedding.images import Pixels, check_pixels
from pipeline.embedding.models import LoadedSiglip
from pipeline.errors import ConfigError, PermanentError

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2_000  # far past any context length; bounds tokenizer work per input


def cpu_supports_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    checker = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if checker is not None and bool(checker()):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``.

    Raises ConfigError when ``cuda`` is asked for and none is visible.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("SIGLIP_DEVICE=cuda but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"SIGLIP_DEVICE must be auto, cpu or cuda, got {device!r}")
    return device


class SiglipRunner:
    """One model on one device. ``threads`` sets torch's CPU threads (None: leave as is)."""

    def __init__(
        self,
        loaded: LoadedSiglip,
        *,
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
    ) -> None:
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        self.loaded = loaded
        self.device = resolve_device(device)
        if precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"SIGLIP_PRECISION must be auto, bf16 or fp32, got {precision!r}")
        if precision == "auto":
            bf16 = self.device == "cuda" or cpu_supports_bf16()
        else:
            bf16 = precision == "bf16"
        self.precision = "bf16" if bf16 else "fp32"
        self.model = loaded.model.to(self.device)
        spec = loaded.spec
        self._mean = torch.tensor(spec.mean, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(spec.std, device=self.device).view(1, 3, 1, 1) * 255.0
        logger.info(
            "siglip runner: %s on %s, %s, %s torch threads",
            loaded.name,
            self.device,
            self.precision,
            torch.get_num_threads(),
        )

    @property
    def dim(self) -> int:
        return self.loaded.dim

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        with (
            torch.inference_mode(),
            torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.precision == "bf16"),
        ):
            yield

    def embed_pixels(self, pixels: Pixels) -> Vectors:
        """Vectors for a uint8 (n, size, size, 3) batch; raises PermanentError on a bad shape."""
        check_pixels(pixels, self.loaded.spec)
        if len(pixels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = torch.from_numpy(np.ascontiguousarray(pixels))
        if self.device == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        # uint8 travels, floats are made here: (x/255 - mean)/std == (x - 255 mean)/(255 std)
        images = (batch.permute(0, 3, 1, 2).float() - self._mean) / self._std
        with self._autocast():
            features = self.loaded.model.encode_image(images)  # type: ignore[operator]
        return _normalized(features)

    def embed_texts(self, texts: list[str]) -> Vectors:
        """Vectors for texts (each cut to the model's context); raises PermanentError on non-str."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise PermanentError(f"texts[{i}] must be a string, got {type(text).__name__}")
        tokens = self.loaded.tokenize([t[:MAX_TEXT_CHARS] for t in texts]).to(self.device)
        with self._autocast():
            features = self.loaded.model.encode_text(tokens)  # type: ignore[operator]
        return _normalized(features)


def _normalized(features: torch.Tensor) -> Vectors:
    out = features.float()
    out = out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    result: Vectors = out.cpu().numpy().astype(np.float32, copy=False)
    return result
