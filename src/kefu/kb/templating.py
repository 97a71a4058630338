"""Response templates rendered in a Jinja2 sandbox with strict undefined variables.

Templates are written by agents, so they run sandboxed (no attribute tricks, no imports) and a
variable the caller did not supply is an error naming it, never a silent blank in a message
to a customer. Output is plain text for chat and email, so nothing is HTML-escaped.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from kefu.kb.errors import TemplateSyntaxInvalid, TemplateUnsafe, TemplateVariableMissing


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def variables(source: str) -> set[str]:
    """The names a template reads from its context; raises on a syntax error."""
    try:
        ast = _environment().parse(source)
    except TemplateSyntaxError as error:
        raise TemplateSyntaxInvalid(line=error.lineno, detail=error.message or "") from None
    return set(meta.find_undeclared_variables(ast))


def check(source: str) -> set[str]:
    return variables(source)


def render(source: str, values: dict[str, Any]) -> str:
    missing = sorted(variables(source) - set(values))
    if missing:
        raise TemplateVariableMissing(names=", ".join(missing))
    try:
        return _environment().from_string(source).render(**values).strip()
    except SecurityError:
        raise TemplateUnsafe() from None
    except UndefinedError as error:
        raise TemplateVariableMissing(names=str(error.message or "")) from None
    except TemplateSyntaxError as error:
        raise TemplateSyntaxInvalid(line=error.lineno, detail=error.message or "") from None
