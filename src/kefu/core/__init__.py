"""Cross-cutting foundations: settings, database, errors, i18n, clock and ids."""
