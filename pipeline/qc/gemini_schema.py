"""The verdict Gemini must answer with: sent as ``response_schema``, parsed by the SDK into
``response.parsed`` (None when the answer does not fit)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from pipeline.qc.policy import CATEGORY_NAMES
from pipeline.records import QCDecision, QCVerdict


class PolicyCategoryName(StrEnum):
    """The policy rule the listing breaks, or none."""

    # Kept equal to policy.CATEGORY_NAMES (checked below); docstrings reach the model.

    WEAPONS = "weapons"
    DRUGS = "drugs"
    COUNTERFEITS = "counterfeits"
    ADULT = "adult"
    ANIMALS = "animals"
    MEDICINE = "medicine"
    MISLEADING_PRICE = "misleading_price"
    IMAGE_MISMATCH = "image_mismatch"
    NONE = "none"


assert {c.value for c in PolicyCategoryName} == {*CATEGORY_NAMES, "none"}


class GeminiVerdict(BaseModel):
    """The review of one marketplace listing."""

    # No extra="forbid": Gemini's responseSchema has no additionalProperties.

    decision: QCDecision = Field(description="approved, rejected or flagged")
    reasons: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="short reasons a seller can act on; empty when approved",
    )
    category: PolicyCategoryName = Field(description="the policy rule broken, or none")
    confidence: float = Field(ge=0, le=1, description="how sure, 0 to 1")

    def to_verdict(self, *, model: str, policy_version: str) -> QCVerdict:
        category = self.category.value
        return QCVerdict(
            decision=self.decision,
            reasons=[reason[:300] for reason in self.reasons],
            category=None if category == "none" else category,
            confidence=self.confidence,
            model=model,
            policy_version=policy_version,
        )
