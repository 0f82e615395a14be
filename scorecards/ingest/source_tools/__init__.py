"""Fast feedback for whoever writes config/sources.yaml: `sources suggest` and `sources check`.

- `profile`: reads an export (encoding, delimiter, header, a sample of rows);
- `values`, `synonyms`, `roles`: recognise what a column holds and which contract column it is;
- `suggest` drafts a mapping from those, `draft_yaml` writes it as commented YAML;
- `check` runs one file through the real engine on an in-memory DuckDB, never the warehouse;
- `cli`: the command; pipelines/cli.py only parses the arguments and calls `cli.main_sources`.

No Dagster here.
"""
