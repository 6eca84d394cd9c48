"""Install size and time of the Space's serving set against the full set, in one run.

Each set is installed into a fresh virtual environment (created without pip; this project's pip
installs into it with ``--python``) from PyPI with ``--no-cache-dir``, so both download every
wheel: the cold install a Space build or a new machine pays. The sets take turns in the order
given (default: serving set first). Measured per set: wall seconds of ``pip install``, the
environment's size on disk (``du``) and in bytes of its files, the number of distributions, and
whether torch is in it. The CPU's model and flags are recorded with the results, since unpacking
and byte-compiling are CPU-bound.

Writes bench/results/space_install.json and .md. Usage: ``python bench/space_install.py``
(about 5 minutes and 8 GB of free disk, most of it for the full set's CUDA torch).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_description  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SETS = {"serving": "requirements-space.txt", "full": "requirements.txt"}
TARGET_RATIO = 0.2  # the Space's environment: at most a fifth of the full one


def disk_bytes(path: Path) -> tuple[int, int]:
    """(bytes on disk as ``du`` counts them, bytes of the files themselves)."""
    used = (
        int(
            subprocess.run(
                ["du", "-sk", str(path)], capture_output=True, text=True, check=True
            ).stdout.split()[0]
        )
        * 1024
    )
    files = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return used, files


def install(name: str, requirements: Path, workdir: Path) -> dict[str, object]:
    venv = workdir / name
    # No pip inside: the environment holds only what the requirements bring.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    empty, _ = disk_bytes(venv)
    command = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-cache-dir",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        str(requirements),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=requirements.parent)
    seconds = time.perf_counter() - started
    used, files = disk_bytes(venv)
    probe = (
        "import importlib.metadata as m, importlib.util as u, json; "
        "print(json.dumps([len(list(m.distributions())), u.find_spec('torch') is not None]))"
    )
    count, has_torch = json.loads(
        subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, check=True
        ).stdout
    )
    return {
        "requirements": requirements.name,
        "install_seconds": round(seconds, 1),
        "disk_mb": round((used - empty) / 1e6, 1),
        "files_mb": round(files / 1e6, 1),
        "distributions": count,
        "torch": has_torch,
    }


def markdown(result: dict) -> str:
    serving, full = result["sets"]["serving"], result["sets"]["full"]
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in result["cpu"]["flags"].items())
    rows = "\n".join(
        f"| {name} (`{s['requirements']}`) | {s['disk_mb']:,.0f} MB | {s['install_seconds']} s | "
        f"{s['distributions']} | {'yes' if s['torch'] else 'no'} |"
        for name, s in result["sets"].items()
    )
    return f"""# Space install: serving set against the full set

`python bench/space_install.py`, {result["date"]}. Fresh virtual environments, one after the
other, Python {result["python"]}, pip {result["pip"]}, `pip install --no-cache-dir -r FILE`
(every wheel downloaded from PyPI: a cold install). CPU: {result["cpu"]["model"]},
{result["cpu"]["cores"]} cores ({flags}).

| set | environment on disk | install wall time | distributions | torch |
|---|---|---|---|---|
{rows}

Size ratio serving / full: **{result["size_ratio"]:.3f}** (target ≤ {TARGET_RATIO}); time ratio
{result["time_ratio"]:.3f}. Sizes are `du` of the environment minus the empty one (files alone:
{serving["files_mb"]:,.0f} MB and {full["files_mb"]:,.0f} MB).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", default="serving,full", help="sets in install order")
    parser.add_argument("--workdir", type=Path, default=None, help="where the venvs go (tmp)")
    args = parser.parse_args(argv)
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    result: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "pip": pip,
        "cache": "none (--no-cache-dir)",
        "cpu": cpu_description(),
    }
    sets: dict[str, dict] = {}
    workdir = Path(tempfile.mkdtemp(prefix="space-install-", dir=args.workdir))
    try:
        for name in args.order.split(","):
            sets[name] = install(name, ROOT / SETS[name], workdir)
            print(name, sets[name], flush=True)
            shutil.rmtree(workdir / name)  # the full set is ~7 GB: keep one at a time
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["sets"] = {name: sets[name] for name in SETS}
    size_ratio = sets["serving"]["disk_mb"] / sets["full"]["disk_mb"]
    result["size_ratio"] = size_ratio
    result["time_ratio"] = sets["serving"]["install_seconds"] / sets["full"]["install_seconds"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "space_install.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "space_install.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if size_ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
