"""Deterministic QC rules, shared by both checkers: the Gemini checker runs them first so a
product that is plainly incomplete or mispriced costs no API call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.qc.banned_words import find_banned
from pipeline.qc.base import QCInput
from pipeline.records import QCDecision, QCVerdict
from pipeline.settings import QCSettings

RULES_MODEL = "local-qc:rules"


@dataclass(frozen=True)
class Finding:
    """One problem: what it means for the product and the sentence the seller sees."""

    decision: QCDecision  # REJECTED or FLAGGED
    reason: str
    category: str | None
    confidence: float


def rule_findings(item: QCInput, cfg: QCSettings) -> list[Finding]:
    """Missing name or image, zero or out-of-range price, banned words."""
    product = item.product
    findings: list[Finding] = []
    if not any(char.isalnum() for char in product.name):
        findings.append(Finding(QCDecision.REJECTED, "missing name", "incomplete", 1.0))
    if not product.image_urls and item.image is None:
        findings.append(Finding(QCDecision.REJECTED, "missing image", "incomplete", 1.0))
    elif item.image is None and item.image_vector is None:
        findings.append(
            Finding(QCDecision.FLAGGED, "image could not be fetched", "incomplete", 0.5)
        )
    findings += _price_findings(item, cfg)
    text = f"{product.name}\n{product.description}"
    for hit in find_banned(text):
        if hit.reject:
            reason = f"banned term {hit.term.rstrip('*')!r} ({hit.category})"
            findings.append(Finding(QCDecision.REJECTED, reason, hit.category, 0.9))
        else:
            reason = f"term {hit.term.rstrip('*')!r} needs review ({hit.category})"
            findings.append(Finding(QCDecision.FLAGGED, reason, hit.category, 0.6))
    return findings


def _price_findings(item: QCInput, cfg: QCSettings) -> list[Finding]:
    product = item.product
    price = product.price
    if price is None:
        if product.price_unparsed:
            reason = f"price could not be read: {(product.price_raw or '')[:60]!r}"
            return [Finding(QCDecision.FLAGGED, reason, "misleading_price", 0.6)]
        return []
    shown = f"{price} {product.currency or ''}".strip()
    if price == 0:
        return [Finding(QCDecision.REJECTED, "price is zero", "misleading_price", 1.0)]
    if price < cfg.min_price:
        reason = f"price {shown} is below the minimum {cfg.min_price}"
        return [Finding(QCDecision.REJECTED, reason, "misleading_price", 0.9)]
    if price > cfg.max_price:
        reason = f"price {shown} is above the maximum {cfg.max_price}"
        return [Finding(QCDecision.REJECTED, reason, "misleading_price", 0.9)]
    return []


def verdict_from(
    findings: Iterable[Finding],
    *,
    model: str,
    policy_version: str,
    approved_confidence: float,
    approved_category: str | None = None,
) -> QCVerdict:
    """Rejected if any finding rejects, else flagged if any flags, else approved.

    The verdict lists every reason of the deciding kind; its category is the first one's.
    """
    found = list(findings)
    for decision in (QCDecision.REJECTED, QCDecision.FLAGGED):
        deciding = [f for f in found if f.decision == decision]
        if deciding:
            return QCVerdict(
                decision=decision,
                reasons=[f.reason for f in deciding],
                category=deciding[0].category,
                confidence=max(f.confidence for f in deciding),
                model=model,
                policy_version=policy_version,
            )
    return QCVerdict(
        decision=QCDecision.APPROVED,
        category=approved_category,
        confidence=approved_confidence,
        model=model,
        policy_version=policy_version,
    )
