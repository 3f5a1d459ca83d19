"""The migrations ship inside the wheel: build it, install it alone, run ``jobrunner status``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from jobrunner.store.migrate import head_revision

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", "jobrunner", "configs", "migrations"]


def _run(*cmd: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JOBRUNNER_"))}
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_installed_wheel_migrates_a_new_database(tmp_path: Path) -> None:
    # build from a copy, so the working tree gets no build/ or egg-info
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, src / name)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", dist, src, cwd=tmp_path)  # fmt: skip
    [wheel] = dist.glob("jobrunner-*.whl")

    # a bare venv that sees the dependencies (not jobrunner) of the running environment
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                        cwd=tmp_path).strip())  # fmt: skip
    (purelib / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel, cwd=tmp_path)  # fmt: skip

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run(python, "-c", "import jobrunner; print(jobrunner.__file__)", cwd=work)
    assert Path(where.strip()).is_relative_to(venv)
    jobrunner = venv / "bin" / "jobrunner"
    assert "upgraded from empty to" in _run(jobrunner, "db", "upgrade", cwd=work)
    assert (work / "jobrunner.db").is_file()  # the default database, in the current folder
    status = json.loads(_run(jobrunner, "status", "--json", cwd=work))
    assert status["total_jobs"] == 0
    head = head_revision()  # the wheel ships the same migrations as the checkout
    assert f"(head {head}, up to date)" in _run(jobrunner, "db", "current", cwd=work)

    # every package of the checkout is in the wheel (a forgotten one breaks only when used)
    shipped = _run(
        python,
        "-c",
        "import pkgutil, jobrunner; print('\\n'.join(m.name for m in "
        "pkgutil.walk_packages(jobrunner.__path__, 'jobrunner.')))",
        cwd=work,
    ).split()
    ours = sorted(
        ".".join(p.relative_to(REPO).parent.parts)
        for p in (REPO / "jobrunner").rglob("__init__.py")
        if "__pycache__" not in p.parts
    )
    assert [name for name in ours if name not in shipped and name != "jobrunner"] == []
    for module in ("jobrunner.server.tones.codec", "jobrunner.report", "jobrunner.timing.align"):
        assert module in shipped
