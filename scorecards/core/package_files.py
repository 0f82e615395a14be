"""Where the files that ship with the code are: templates, fonts, presets, the default config.

The one place that knows. Everything is found through `importlib.resources`, relative to the
package that holds it, so a source checkout and an installed wheel find them the same way:

| what | package data of | in the checkout | in the wheel |
|---|---|---|---|
| PDF templates, stylesheet | `reports` | `reports/templates/` | `site-packages/reports/templates/` |
| e-mail templates | `reports` | `reports/templates/mail/` | `.../reports/templates/mail/` |
| fonts (binary) | `reports` | `reports/templates/fonts/` | `.../reports/templates/fonts/` |
| vendor presets | `scorecards` | `scorecards/presets/` | `.../scorecards/presets/` |
| default config (example) | `scorecards` | `config/` | `.../scorecards/default_config/` |

The data dir and the config dir are settings, not package files (docs/deployment.md): in a
source checkout they default to its `data/` and `config/`; an installed package has no place of
its own for them, so there `SCORECARDS_DATA_DIR` and `SCORECARDS_CONFIG_DIR` must be set (the
packaged default config is an example to copy: `python -m scorecards.core.package_files
init-config DIR`).

The renderer hands template paths to WeasyPrint and font paths to matplotlib, which need real
files: the package must be installed unzipped (pip always does), which `_directory` checks.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

DATA_DIR_ENV = "SCORECARDS_DATA_DIR"
CONFIG_DIR_ENV = "SCORECARDS_CONFIG_DIR"


class PackageFilesError(RuntimeError):
    """A file that ships with the package is missing, or the package is not installed as files."""


def _directory(package: str, *parts: str) -> Path:
    resource = resources.files(package).joinpath(*parts)
    path = Path(str(resource))
    if not isinstance(resource, Path) or not path.is_dir():
        raise PackageFilesError(
            f"{package}/{'/'.join(parts)} is not a directory on disk ({resource!r}): "
            "install service-scorecards with pip (unzipped), not as a zip archive"
        )
    return path.resolve()


def source_checkout() -> Path | None:
    """The root of the source checkout the code runs from, or None when it is installed."""
    root = Path(str(resources.files("scorecards"))).resolve().parent
    return root if (root / "pyproject.toml").is_file() and (root / "config").is_dir() else None


TEMPLATES_DIR = _directory("reports", "templates")
MAIL_TEMPLATES_DIR = _directory("reports", "templates", "mail")
FONTS_DIR = _directory("reports", "templates", "fonts")
PRESETS_DIR = _directory("scorecards", "presets")


def default_config_example() -> Path:
    """The config the project ships (teams, sources, notes of the demo): the checkout's
    `config/`, or its copy in the wheel."""
    checkout = source_checkout()
    return checkout / "config" if checkout else _directory("scorecards", "default_config")


def default_data_dir() -> Path:
    """The data dir when neither an argument nor SCORECARDS_DATA_DIR names one."""
    checkout = source_checkout()
    if checkout is None:
        raise PackageFilesError(
            f"{DATA_DIR_ENV} is not set: an installed service-scorecards keeps no data inside "
            "the package; set it to the folder with landing/, the warehouse and the outputs "
            "(docs/deployment.md)"
        )
    return checkout / "data"


def default_config_dir() -> Path:
    """The config dir when neither an argument nor SCORECARDS_CONFIG_DIR names one."""
    checkout = source_checkout()
    if checkout is None:
        raise PackageFilesError(
            f"{CONFIG_DIR_ENV} is not set: an installed service-scorecards needs its own config "
            "folder (teams.yaml, sources.yaml, notes/); `python -m scorecards.core.package_files "
            "init-config DIR` copies the shipped example there (docs/deployment.md)"
        )
    return checkout / "config"


def init_config(target: Path) -> list[Path]:
    """Copy the shipped default config into `target`, keeping any file already there."""
    source = default_config_example()
    written = []
    for path in sorted(source.rglob("*")):
        # the Dagster instance yaml files in the checkout's config/ are not scorecards config
        if not path.is_file() or path.suffix not in (".yaml", ".md"):
            continue
        if path.name.startswith("dagster"):
            continue
        dest = target / path.relative_to(source)
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scorecards.core.package_files",
        description="Where the package's templates, fonts, presets and default config are.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("show", help="print the folders")
    init = sub.add_parser("init-config", help="copy the default config into DIR (keeps files)")
    init.add_argument("dir", type=Path)
    a = parser.parse_args(argv)
    if a.command == "show":
        print(f"templates       {TEMPLATES_DIR}")
        print(f"mail templates  {MAIL_TEMPLATES_DIR}")
        print(f"fonts           {FONTS_DIR}")
        print(f"presets         {PRESETS_DIR}")
        print(f"default config  {default_config_example()}")
        print(f"source checkout {source_checkout() or '-'}")
        return 0
    written = init_config(a.dir)
    for path in written:
        print(path)
    print(f"{len(written)} file(s) written to {a.dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
