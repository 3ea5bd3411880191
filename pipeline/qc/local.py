"""The offline quality checker: rules plus SigLIP zero-shot, no network, no API key.

Its verdicts say ``model="local-qc:..."`` so reviewers know a local model decided. It is
cautious where it is unsure: zero-shot and image-text disagreement flag for review; only
rules and a confident zero-shot match reject.
"""

from __future__ import annotations

import logging

import numpy as np

from pipeline.embedding.base import Embedder
from pipeline.errors import PermanentError
from pipeline.images import ImageLimits, decode_rgb
from pipeline.qc.base import QCInput
from pipeline.qc.rules import RULES_MODEL, Finding, rule_findings, verdict_from
from pipeline.qc.zero_shot import ALLOWED, Vector, ZeroShotScorer, agreement
from pipeline.records import QCDecision, QCVerdict
from pipeline.settings import QCSettings

logger = logging.getLogger(__name__)


class LocalQualityChecker:
    """Rules always; zero-shot and agreement when an embedder is given (or vectors are)."""

    def __init__(
        self,
        cfg: QCSettings,
        embedder: Embedder | None = None,
        *,
        limits: ImageLimits | None = None,
    ) -> None:
        """``limits``: the image rules of the scrape (``CATALOG_MAX_IMAGE_*``)."""
        self._cfg = cfg
        self._limits = limits or ImageLimits()
        self._embedder = embedder
        self._scorer = (
            ZeroShotScorer(embedder, temperature=cfg.zero_shot_temperature) if embedder else None
        )
        self._model = f"local-qc:rules+siglip:{embedder.model_name}" if embedder else RULES_MODEL

    @property
    def policy_version(self) -> str:
        return self._cfg.policy_version

    @property
    def model(self) -> str:
        return self._model

    async def check(self, item: QCInput) -> QCVerdict:
        """A verdict for the product. Raises RetryableError only if the embedder does."""
        findings = rule_findings(item, self._cfg)
        confidence = 0.5  # rules alone cannot see what the photo shows
        if not any(f.decision == QCDecision.REJECTED for f in findings):
            vectors = await self._vectors(item, findings)
            if vectors is not None:
                image_vector, text_vector = vectors
                findings += self._agreement_findings(image_vector, text_vector)
                if self._scorer is not None:
                    scores = await self._scorer.category_scores(image_vector)
                    findings += self._zero_shot_findings(scores)
                    confidence = min(0.9, scores.get(ALLOWED, 0.0))
            elif self._embedder is None and item.image is not None:
                findings += _decodable(item.image, self._limits)
        verdict = verdict_from(
            findings,
            model=self._model,
            policy_version=self._cfg.policy_version,
            approved_confidence=confidence,
        )
        logger.debug(
            "local qc %s: %s %s", item.product.product_id, verdict.decision, verdict.reasons
        )
        return verdict

    async def aclose(self) -> None:
        """Nothing to release: the embedder belongs to the caller."""

    async def _vectors(
        self, item: QCInput, findings: list[Finding]
    ) -> tuple[Vector, Vector] | None:
        """The product's image and text vectors: given, or embedded now; None when impossible."""
        image_vector, text_vector = item.image_vector, item.text_vector
        if self._embedder is None:
            if image_vector is None or text_vector is None:
                return None
            return np.asarray(image_vector, np.float32), np.asarray(text_vector, np.float32)
        if image_vector is None:
            if item.image is None:
                return None
            try:
                image_vector = (await self._embedder.embed_images([item.image]))[0]
            except PermanentError as exc:
                findings.append(
                    Finding(QCDecision.REJECTED, "image could not be decoded", "incomplete", 1.0)
                )
                logger.info("local qc %s: %s", item.product.product_id, exc)
                return None
        if text_vector is None:
            text = f"{item.product.name}. {item.product.description}".strip()
            text_vector = (await self._embedder.embed_texts([text]))[0]
        return np.asarray(image_vector, np.float32), np.asarray(text_vector, np.float32)

    def _zero_shot_findings(self, scores: dict[str, float]) -> list[Finding]:
        findings = []
        for name, prob in sorted(scores.items(), key=lambda kv: -kv[1]):
            if name == ALLOWED or prob < self._cfg.zero_shot_flag:
                continue
            decision = (
                QCDecision.REJECTED if prob >= self._cfg.zero_shot_reject else QCDecision.FLAGGED
            )
            reason = f"image looks like {name} (zero-shot p={prob:.2f})"
            findings.append(Finding(decision, reason, name, prob))
        return findings

    def _agreement_findings(self, image_vector: Vector, text_vector: Vector) -> list[Finding]:
        score = agreement(image_vector, text_vector)
        if score >= self._cfg.agreement_min:
            return []
        reason = (
            f"image does not match the text (agreement {score:.3f} < {self._cfg.agreement_min})"
        )
        return [Finding(QCDecision.FLAGGED, reason, "image_mismatch", 0.5)]


def _decodable(image: bytes, limits: ImageLimits) -> list[Finding]:
    try:
        decode_rgb(image, limits, draft=64)
    except PermanentError:
        return [Finding(QCDecision.REJECTED, "image could not be decoded", "incomplete", 1.0)]
    return []
