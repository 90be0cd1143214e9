"""The project's wheel, built offline and installed WITHOUT extras into a clean virtualenv outside the repository.

Shared by the tests of what a plain `pip install medallion` gives (tests/cli/test_installed_package.py) and of
what the Databricks job's python_wheel_tasks run (tests/deploy/test_job_tasks.py). Import the fixtures by name:
`from tests.installed_wheel import installed, wheel  # noqa: F401 (fixtures)`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

DATABRICKS_CALL = (
    "import sys\n"
    "from importlib.metadata import entry_points\n"
    "(entry,) = entry_points(group='console_scripts', name='medallion')\n"
    "sys.argv = ['medallion', *sys.argv[1:]]\n"
    "code = entry.load()()\n"
    "print(f'entry point returned {code!r}')\n"
)
"""How Databricks calls a python_wheel_task's entry point: in-process, the task's parameters as sys.argv[1:].
A successful task must return from the entry point (no SystemExit): the last line says what it returned."""


@dataclass
class Installed:
    python: Path
    script: Path
    home: Path

    def call(self, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
        """The entry point called as a python_wheel_task calls it."""
        return subprocess.run([str(self.python), "-c", DATABRICKS_CALL, *args], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=300)

    def medallion(self, *args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
        """The `medallion` console script, run from `cwd` (default: outside the repository) in a clean environment."""
        return subprocess.run([str(self.script), *args], capture_output=True, text=True, timeout=timeout,
                              env=clean_environ(self.home), cwd=cwd or self.home)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the bundle's artifact builds, built offline (the venv's setuptools) from a copy of the sources."""
    source = tmp_path_factory.mktemp("wheel-source")
    for package in ("framework", "market", "transforms"):  # pyproject's packages: the framework and the market project
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, capture_output=True, text=True)
    (built,) = out.glob("medallion-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel installed WITHOUT extras into a fresh virtualenv (no system site-packages) outside the repo."""
    home = tmp_path_factory.mktemp("installed")
    venv = home / "venv"
    # No pip inside and no bytecode compiling: this venv's pip installs into it (`--python`), from its cache.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True,
                   text=True)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
                           str(wheel)], capture_output=True, text=True, env=clean_environ(home), cwd=home)
    assert done.returncode == 0, done.stderr[-2000:]
    return Installed(python, venv / "bin" / "medallion", home)


def clean_environ(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without anything that points at the repository, its venv or Databricks."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABRICKS_", "BUNDLE_VAR_", "ALPACA_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / "no-databrickscfg"), **extra)
    return env
