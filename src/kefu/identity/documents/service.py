"""ID-document review: the seam the step-up policy reads its `id_review` factor from.

Placeholder on this branch: the ID-review helper (issue 3's document half) provides the real
module, which answers from approved document reviews; the integrator takes that file.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def identity_reverified_at(session: Session, customer_id: str) -> datetime | None:
    """When the customer's identity was last re-verified by an approved ID-document review,
    or None if never. The ID-review helper provides the real implementation."""
    return None
