"""Fresh virtual environments for the install tests: the Space's serving set, the wheel.

Created without pip; this project's pip installs into them with ``--python``, from PyPI or its
cache (``~/.cache/pip``, which CI's setup-python keeps between runs).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INSTALL_TIMEOUT_S = 600


def make_venv(folder: Path, *install_args: str, cwd: Path | None = None) -> Path:
    """A new virtual environment in ``folder`` with ``pip install INSTALL_ARGS``; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *install_args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return python


def run_in(
    python: Path, code: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS`` with another environment's interpreter."""
    return subprocess.run(
        [str(python), "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
