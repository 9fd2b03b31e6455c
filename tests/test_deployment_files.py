"""The deployment files cannot run here (no container engine), so their linters check them."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_dockerfile_passes_hadolint():
    result = run(str(BIN / "hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_yaml_files_pass_yamllint():
    result = run(str(BIN / "yamllint"), "-c", ".yamllint.yml", "--strict", "docker-compose.yml", "deploy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification():
    result = run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_manifests_are_valid():
    manifests = sorted(str(p) for p in (ROOT / "deploy" / "kubernetes").glob("*.yaml"))
    result = run(str(BIN / "kubernetes-validate"), "--strict", *manifests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout.lower()


def procfile_flask_commands() -> list[list[str]]:
    commands = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        _, _, command = line.partition(":")
        for part in command.split("&&"):
            words = shlex.split(part)
            if words and words[0] == "flask":
                commands.append(words[words.index("wsgi") + 1 :])
    return commands


@pytest.mark.parametrize("command", procfile_flask_commands(), ids=" ".join)
def test_procfile_commands_exist(runner, command):
    # `--help` proves the command and its arguments parse, without running a worker.
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0, result.output
