"""The knowledge base's errors, each with a stable code and a zh/en message."""

from __future__ import annotations

from kefu.core.errors import Conflict, KefuError, NotFound
from kefu.core.i18n import N_


class ArticleNotFound(NotFound):
    code = "kb_article_not_found"
    message = N_("No knowledge-base article %(ref)s.")


class TranslationNotFound(NotFound):
    code = "kb_translation_not_found"
    message = N_("Article %(ref)s has no %(lang)s translation.")


class VersionNotFound(NotFound):
    code = "kb_version_not_found"
    message = N_("Version %(version)s of this translation does not exist.")


class CategoryNotFound(KefuError):
    status = 422
    code = "kb_category_unknown"
    message = N_("There is no knowledge-base category %(slug)s.")


class SlugTaken(Conflict):
    code = "kb_slug_taken"
    message = N_("The slug %(slug)s is already used.")


class TranslationExists(Conflict):
    code = "kb_translation_exists"
    message = N_("This article already has a %(lang)s translation.")


class TemplateNotFound(NotFound):
    code = "kb_template_not_found"
    message = N_("No response template %(ref)s.")


class TemplateExists(Conflict):
    code = "kb_template_exists"
    message = N_("A template %(key)s in %(lang)s already exists.")


class TemplateSyntaxInvalid(KefuError):
    status = 422
    code = "template_syntax_error"
    message = N_("The template has a syntax error on line %(line)s: %(detail)s")


class TemplateVariableMissing(KefuError):
    status = 422
    code = "template_variable_missing"
    message = N_("The template needs values for: %(names)s.")


class TemplateUnsafe(KefuError):
    status = 422
    code = "template_unsafe"
    message = N_("The template tried something templates may not do.")


class UnsupportedLanguage(KefuError):
    status = 422
    code = "kb_language_unsupported"
    message = N_("Knowledge-base content is written in zh-CN or en, not %(lang)s.")
