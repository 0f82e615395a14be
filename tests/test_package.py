"""The installable package: the wheel holds the code location and its files (templates, fonts,
presets, the default config) and nothing dev-only; installed outside the checkout it finds its
files inside site-packages, loads as a Dagster code location and renders scorecards.

Installing every dependency into a fresh venv would take minutes, so the temporary venv sees the
project venv's third-party packages through a .pth file and gets only the wheel installed, with
`--no-deps`. The checkout's editable install is not visible there: a directory named in a .pth
file is only appended to sys.path, its own .pth files (the editable finder) are not run, and the
wheel's copy in the temp site-packages comes first; `test_installed_files_are_in_site_packages`
checks that. A second .pth blocks the dev-only packages, so an import of one fails as it would
in production. The wheel is built as the Makefile and the Dockerfile build it (`pip wheel
--no-deps --no-build-isolation`, setuptools from the lock), from a copy of the tree so no
build/ folder lands in the checkout.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scorecards", "pipelines", "assets", "reports")
DEV_ONLY = ("aiosmtpd", "trustme", "pytest", "_pytest", "pypdf")
# top-level names of the checkout that are not part of the source
NOT_SOURCE = {".venv", ".git", "data", ".dagster", "build", "dist", "bench-data", ".cache"}
SKIP_ANYWHERE = {"__pycache__", ".pytest_cache", ".ruff_cache"}

BLOCKER = f"""
import importlib.abc
import sys

class _DevOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DEV_ONLY!r}:
            raise ModuleNotFoundError(f"{{name}} is dev-only, not installed in production", name=name)
        return None

sys.meta_path.insert(0, _DevOnly())
"""


class Installed:
    def __init__(self, tmp: Path, wheel: Path, python: Path, site_packages: Path) -> None:
        self.tmp, self.wheel, self.python, self.site_packages = tmp, wheel, python, site_packages
        self.timings: dict[str, float] = {}
        self.work = tmp / "work"  # the cwd of every command: outside the checkout
        self.work.mkdir()
        (tmp / "dagster_home").mkdir()
        (tmp / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SCORECARDS_", "SMTP_", "DAGSTER_", "PYTHON", "VIRTUAL_ENV"))
        }
        env["DAGSTER_HOME"] = str(self.tmp / "dagster_home")
        env.update(extra)
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: int = 600
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.python), *args],
            cwd=self.work,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            pytest.fail(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc


def _copy_source(dest: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder).resolve() == ROOT
        return {
            n
            for n in names
            if n in SKIP_ANYWHERE or n.endswith(".egg-info") or (top and n in NOT_SOURCE)
        }

    shutil.copytree(ROOT, dest, ignore=ignore)


def _sh(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("package")
    t0 = time.perf_counter()
    _copy_source(tmp / "src")
    dist = tmp / "dist"
    pip = (sys.executable, "-m", "pip")
    _sh(
        *pip,
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        str(dist),
        str(tmp / "src"),
    )
    (wheel,) = dist.glob("service_scorecards-*.whl")
    t1 = time.perf_counter()

    venv = tmp / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    purelib = _sh(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    site_packages = Path(purelib.strip())
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (site_packages / "zz_project_venv.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    (site_packages / "_block_dev_only.py").write_text(BLOCKER)
    (site_packages / "_block_dev_only.pth").write_text("import _block_dev_only\n")
    _sh(*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel))
    inst = Installed(tmp, wheel, python, site_packages.resolve())
    inst.timings = {"build wheel": t1 - t0, "venv + install": time.perf_counter() - t1}
    return inst


def _tree_packages() -> set[str]:
    return {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in PACKAGES
        for p in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }


def test_wheel_holds_the_code_location_and_its_files(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.endswith(".dist-info/RECORD")}
    assert tops == {*PACKAGES, "service_scorecards-0.1.0.dist-info"}
    assert not [n for n in names if n.startswith(("benchmarks/", "tests/"))]
    assert "tests/smtp_server.py" not in names
    # every package of the tree is listed in pyproject.toml
    in_wheel = {n.rsplit("/", 1)[0].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert _tree_packages() <= in_wheel
    # templates, stylesheet, fonts (binary, byte for byte), mail templates
    templates = ROOT / "reports" / "templates"
    for path in templates.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            name = "reports/templates/" + path.relative_to(templates).as_posix()
            assert name in names
            assert zipfile.ZipFile(installed.wheel).read(name) == path.read_bytes()
    assert "reports/templates/fonts/Inter-Regular.otf" in names
    # the default config (without the Dagster instance yaml) and the presets
    for name in ("teams.yaml", "sources.yaml", "notes/README.md"):
        assert f"scorecards/default_config/{name}" in names
    assert not [n for n in names if n.startswith("scorecards/default_config/dagster")]
    assert "scorecards/presets/zendesk.yaml" in names
    assert "scorecards/presets/samples/zendesk.csv" in names


def test_wheel_imports_no_dev_only_package(installed: Installed) -> None:
    wheel = zipfile.ZipFile(installed.wheel)
    bad = []
    for name in wheel.namelist():
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(wheel.read(name), name)):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            bad += [f"{name}: {m}" for m in mods if m.split(".")[0] in DEV_ONLY]
            bad += [f"{name}: {m}" for m in mods if m.split(".")[0] in ("tests", "benchmarks")]
    assert bad == []


def test_installed_files_are_in_site_packages(installed: Installed) -> None:
    probe = textwrap.dedent(
        """
        import json
        import scorecards, reports
        from scorecards.render import content
        from scorecards.delivery import mail
        from scorecards.core import package_files
        from scorecards.render import pdf as render
        from scorecards.config import sources
        print(json.dumps({
            "scorecards": scorecards.__file__,
            "reports": reports.__file__,
            "render": str(render.TEMPLATE_DIR),
            "content": str(content.TEMPLATE_DIR),
            "mail": str(mail.TEMPLATE_DIR),
            "fonts": str(package_files.FONTS_DIR),
            "presets": str(sources.PRESETS_DIR),
            "config": str(package_files.default_config_example()),
            "checkout": str(package_files.source_checkout()),
        }))
        """
    )
    found = json.loads(installed.run("-c", probe).stdout)
    # the dev-only packages of the project venv are really out of reach here
    blocked = installed.run("-c", "import aiosmtpd", check=False)
    assert blocked.returncode != 0 and "dev-only" in blocked.stderr
    assert found.pop("checkout") == "None"
    for what, path in found.items():
        assert Path(path).is_relative_to(installed.site_packages), (what, path)
    fonts = Path(found["fonts"])
    assert (fonts / "Inter-Regular.otf").stat().st_size > 10_000
    assert (Path(found["render"]) / "scorecard.html.j2").is_file()
    assert (Path(found["mail"]) / "scorecard.txt.j2").is_file()
    assert (Path(found["config"]) / "teams.yaml").is_file()


def test_installed_without_dirs_says_what_to_set(installed: Installed) -> None:
    proc = installed.run(
        "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions", check=False
    )
    assert proc.returncode != 0
    assert "SCORECARDS_DATA_DIR is not set" in proc.stdout + proc.stderr
    proc = installed.run(
        "-m",
        "dagster",
        "definitions",
        "validate",
        "-m",
        "pipelines.definitions",
        env=installed.env(SCORECARDS_DATA_DIR=str(installed.tmp / "nodata")),
        check=False,
    )
    assert proc.returncode != 0
    assert "SCORECARDS_CONFIG_DIR is not set" in proc.stdout + proc.stderr
    assert not (installed.site_packages / "data").exists()


def test_installed_code_location_validates_and_renders(installed: Installed) -> None:
    tmp = installed.tmp
    config, data = tmp / "config", tmp / "data"
    t0 = time.perf_counter()
    installed.run("-m", "scorecards.core.package_files", "init-config", str(config))
    assert (config / "teams.yaml").read_bytes() == (ROOT / "config" / "teams.yaml").read_bytes()
    env = installed.env(SCORECARDS_DATA_DIR=str(data), SCORECARDS_CONFIG_DIR=str(config))

    proc = installed.run(
        "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions", env=env
    )
    assert "pipelines.definitions" in proc.stdout + proc.stderr
    t1 = time.perf_counter()

    # the run: a small config (the teams in the data, one recipient each) keeps it short
    (config / "teams.yaml").write_text(
        "overview: {locale: en, recipients: [head.of.service@example.com]}\n"
        "team_defaults: {locale: de, recipients: [team.lead@example.com]}\n"
    )
    installed.run(
        "-m",
        "scorecards.demo.generate",
        "--months",
        "2",
        "--teams",
        "2",
        "--tickets-per-month",
        "400",
        "--end-month",
        "2026-08",  # the shipped notes are for 2026-10 and name teams of the full demo
        env=env,
    )
    installed.run("-m", "pipelines.cli", "run", "--email", env=env)
    pdfs = sorted((data / "out" / "2026-08" / "scorecards").glob("*.pdf"))
    assert len(pdfs) == 3, pdfs  # the two teams in the data and the overview
    assert "overview.pdf" in {p.name for p in pdfs}
    for pdf in pdfs:
        fonts = {
            str(font.get_object()["/BaseFont"])
            for page in PdfReader(pdf).pages
            for font in (page["/Resources"].get_object().get("/Font") or {}).values()
        }
        assert any("Inter" in f for f in fonts), (pdf, fonts)  # the packaged font, embedded
    assert list((data / "out" / "2026-08" / "outbox").glob("*.eml"))
    t2 = time.perf_counter()
    installed.timings.update({"validate": t1 - t0, "demo data + run": t2 - t1})
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in installed.timings.items()))
