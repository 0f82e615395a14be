"""The report templates, stylesheet and fonts (`reports/templates/`), shipped as package data.

No code: scorecards/core/package_files.py finds the files through this package."""
