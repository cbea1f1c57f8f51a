"""The wheel and the sdist: their files and metadata, built the way a release would be."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(wheel, sdist, what the build printed), built without isolation (offline)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist, result.stdout + result.stderr


def test_build_warns_nothing_about_our_metadata(built: tuple[Path, Path, str]) -> None:
    output = built[2]
    # setuptools says "SetuptoolsDeprecationWarning: `project.license` as a TOML table..."
    for warning in ("deprecat", "warning `"):
        assert warning not in output.lower(), output


def test_wheel_holds_the_license_the_package_data_and_nothing_else(
    built: tuple[Path, Path, str],
) -> None:
    names = zipfile.ZipFile(built[0]).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "trio_mailsync/py.typed" in names
    assert "trio_mailsync/sinks/dashboard/index.html" in names
    assert "trio_mailsync/sinks/dashboard/dashboard.js" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "scripts/"))]


def test_wheel_metadata(built: tuple[Path, Path, str]) -> None:
    with zipfile.ZipFile(built[0]) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(wheel.read(name))
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    classifiers = metadata.get_all("Classifier") or []
    for wanted in (
        "Framework :: Trio",
        "Typing :: Typed",
        "Programming Language :: Python :: 3.11",
        "Development Status :: 3 - Alpha",
    ):
        assert wanted in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert "prometheus-client" in " ".join(metadata.get_all("Requires-Dist") or [])
    # The long description is the README, which must read on PyPI: nothing that needs
    # a clone of the repository presented as the way to run it, no relative links.
    readme = metadata.get_payload()
    assert isinstance(readme, str)
    assert "pip install trio-mailsync" in readme
    assert "](docs/" not in readme
    assert "](./" not in readme


def test_sdist_holds_the_license_and_the_dashboard(built: tuple[Path, Path, str]) -> None:
    with tarfile.open(built[1]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "PKG-INFO"} <= names
    assert "trio_mailsync/sinks/dashboard/index.html" in names
