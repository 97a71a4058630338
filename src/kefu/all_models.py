"""Imports every domain's models so that `Base.metadata` knows the whole schema."""

from kefu.audit import models as audit_models
from kefu.bot import models as bot_models
from kefu.chain import models as chain_models
from kefu.chat import models as chat_models
from kefu.core import models as core_models
from kefu.disputes import models as dispute_models
from kefu.exchange import models as exchange_models
from kefu.identity import models as identity_models
from kefu.identity.documents import models as identity_document_models
from kefu.identity.mfa import models as mfa_models
from kefu.kb import models as kb_models
from kefu.security import models as security_models
from kefu.sla import models as sla_models
from kefu.tickets import models as ticket_models
from kefu.web.portal import models as portal_models

__all__ = [
    "audit_models",
    "bot_models",
    "chain_models",
    "chat_models",
    "core_models",
    "dispute_models",
    "exchange_models",
    "identity_document_models",
    "identity_models",
    "kb_models",
    "mfa_models",
    "portal_models",
    "security_models",
    "sla_models",
    "ticket_models",
]
