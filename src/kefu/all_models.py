"""Imports every domain's models so that `Base.metadata` knows the whole schema."""

from kefu.audit import models as audit_models
from kefu.bot import models as bot_models
from kefu.core import models as core_models
from kefu.identity import models as identity_models
from kefu.sla import models as sla_models
from kefu.tickets import models as ticket_models

__all__ = [
    "audit_models",
    "bot_models",
    "core_models",
    "identity_models",
    "sla_models",
    "ticket_models",
]
