"""The lessons runtime: format (reading a lesson), progress, page, exercise_view, widgets,
serve, and exercises/ (kinds, sandbox, bank, registry)."""
