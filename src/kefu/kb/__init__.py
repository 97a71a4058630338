"""The knowledge base: articles with translations and versions, response templates (macros
and per-jurisdiction policy templates), and hybrid search used by the bot, the portal and
agents."""
