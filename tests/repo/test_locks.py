"""One pair of lock files per supported Python, each installable where the course runs.

scripts/lock.py writes requirements/lab.lock and requirements/test.lock for Python
3.11 (what CI installs) and requirements/py3.12/, requirements/py3.13/ for the
others; the Makefile installs the pair of its environment's Python. Here:

- the locks agree with pyproject.toml (requires-python, every declared package
  pinned within its range) and with each other (3.12 and 3.13 keep the 3.11
  versions), on each supported platform;
- the Makefile picks the newest Python that runs, and the locks of its version;
- on PyPI, every pin of every lock that applies to a supported Python and
  platform has a wheel for it (`--only-binary` semantics; environment markers
  evaluated for that Python and platform, so tensorflow-cpu counts on Linux x86-64
  only, appnope on macOS only, pywinpty on Windows only), whose requires-python
  admits that Python's oldest supported release (scripts/lock.py's PYTHONS).
  Skipped when PyPI cannot be reached.
"""

import concurrent.futures
import importlib.util
import json
import os
import subprocess
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packaging import tags
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("course_lock", ROOT / "scripts" / "lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)

# The supported platforms: environment-marker values and the wheel platform tags each accepts.
# Linux: glibc 2.28 or newer (manylinux_2_28 and older); macOS: 14 or newer on Apple silicon.
LINUX_GLIBC_MINOR = 28
MACOS = (14, 0)
PLATFORMS = {
    "Linux x86-64": (
        {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
        [f"manylinux_2_{minor}_x86_64" for minor in range(LINUX_GLIBC_MINOR, 4, -1)]
        + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
    ),
    "macOS arm64": (
        {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
        list(tags.mac_platforms(MACOS, "arm64")),
    ),
    "Windows x86-64": (
        {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
        ["win_amd64"],
    ),
}
TARGETS = [(version, platform) for version in lock.PYTHONS for platform in PLATFORMS]
SIMPLE_API = "https://pypi.org/simple/{}/"


def _marker_environment(version, platform):
    environment = default_environment()
    environment.update(PLATFORMS[platform][0])
    environment.update(
        implementation_name="cpython", platform_python_implementation="CPython", platform_release="",
        platform_version="", python_version=version, python_full_version=lock.PYTHONS[version],
        implementation_version=lock.PYTHONS[version],
    )
    return environment


def _wheel_tags(version, platform):
    python = tuple(int(part) for part in version.split("."))
    interpreter = f"cp{python[0]}{python[1]}"
    platforms = PLATFORMS[platform][1]
    return set(tags.cpython_tags(python, abis=[interpreter], platforms=platforms)) | set(
        tags.compatible_tags(python, interpreter=interpreter, platforms=platforms)
    )


def _lock_requirements(version, name):
    """The requirements of a lock file, following its `-r` lines."""
    path = lock.lock_dir(version) / name
    requirements = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            requirements += _lock_requirements(version, line.removeprefix("-r ").strip())
        elif line and not line.startswith("#"):
            requirements.append(Requirement(line))
    return requirements


def _pins(version, platform, name="test.lock"):
    """`{name: version}` of the lock's pins whose markers hold on that Python and platform."""
    environment = _marker_environment(version, platform)
    pins = {}
    for requirement in _lock_requirements(version, name):
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{requirement} is not an exact pin"
            key = canonicalize_name(requirement.name)
            assert pins.get(key, specifier.version) == specifier.version, f"{key} pinned twice"
            pins[key] = specifier.version
    return pins


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


# The locks themselves -----------------------------------------------------------------------


def test_requires_python_is_the_supported_pythons():
    supported = SpecifierSet(_pyproject()["requires-python"])
    versions = list(lock.PYTHONS)
    major, oldest = (int(part) for part in versions[0].split("."))
    newest = int(versions[-1].split(".")[1])
    assert [f"{major}.{minor}" for minor in range(oldest, newest + 1)] == versions
    for minor in range(oldest - 1, newest + 2):
        expected = oldest <= minor <= newest
        assert supported.contains(f"{major}.{minor}.0") == expected, (supported, f"{major}.{minor}")


@pytest.mark.parametrize("version", list(lock.PYTHONS))
def test_each_python_has_a_lab_and_a_test_lock(version):
    folder = lock.lock_dir(version)
    test_lock = (folder / "test.lock").read_text()
    assert test_lock.count("-r lab.lock") == 1
    lab = {canonicalize_name(r.name) for r in _lock_requirements(version, "lab.lock")}
    test_only = [r for r in test_lock.splitlines() if r.strip() and not r.startswith(("#", "-r"))]
    assert not lab & {canonicalize_name(Requirement(r).name) for r in test_only}


@pytest.mark.parametrize("version, platform", TARGETS)
def test_locks_pin_every_declared_package_within_its_range(version, platform):
    project = _pyproject()
    declared = list(project["dependencies"])
    for extra in lock.TEST_EXTRAS:
        declared += project["optional-dependencies"][extra]
    environment = _marker_environment(version, platform)
    pins = _pins(version, platform)
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is declared in pyproject.toml but not locked for {version} on {platform}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject.toml's range {requirement.specifier}"
        )


@pytest.mark.parametrize("version, platform", [t for t in TARGETS if t[0] != lock.FROZEN])
def test_newer_pythons_keep_the_311_versions(version, platform):
    frozen = _pins(lock.FROZEN, platform)
    moved = {n: (frozen[n], v) for n, v in _pins(version, platform).items() if n in frozen and frozen[n] != v}
    assert not moved, f"{lock.FROZEN} vs {version} on {platform}: {moved}"


def test_check_python_accepts_the_supported_releases_only():
    for version, oldest in lock.PYTHONS.items():
        release = tuple(int(part) for part in oldest.split("."))
        lock.check_python(release)
        lock.check_python(release[:2] + (99,))
        if release[2] > 0:
            with pytest.raises(SystemExit, match=oldest):
                lock.check_python(release[:2] + (release[2] - 1,))
    versions = [tuple(int(part) for part in v.split(".")) for v in lock.PYTHONS]
    for outside in (versions[0][:1] + (versions[0][1] - 1, 0), versions[-1][:1] + (versions[-1][1] + 1, 0)):
        with pytest.raises(SystemExit, match="The course needs Python .*; set PYTHON="):
            lock.check_python(outside)


# The Makefile -------------------------------------------------------------------------------


def _fake_python(folder, name, version):
    """An executable that prints `version` when asked for it, and fails if `version` is None."""
    path = folder / name
    if version is None:
        path.write_text("#!/bin/sh\necho 'pyenv: version not installed' >&2\nexit 127\n")
    else:
        path.write_text(f'#!/bin/sh\ncase "$2" in *version_info*) echo {version};; esac\nexit 0\n')
    path.chmod(0o755)
    return path


def _make_dry_run(tmp_path, *variables, path=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    if path is not None:
        env["PATH"] = f"{path}{os.pathsep}{env.get('PATH', '')}"
    command = ["make", "--no-print-directory", "-n", "-C", str(ROOT), "test-repo", f"VENV={tmp_path / 'venv'}"]
    result = subprocess.run(command + list(variables), capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("version", list(lock.PYTHONS))
def test_makefile_installs_the_locks_of_its_python(tmp_path, version):
    python = _fake_python(tmp_path, "python", version)
    commands = _make_dry_run(tmp_path, f"PYTHON={python}")
    assert f"{python} -m venv {tmp_path / 'venv'}" in commands
    installed = [line.split(" -r ")[1] for line in commands.splitlines() if " pip install -q -r " in line]
    folder = lock.lock_dir(version).relative_to(ROOT)
    assert installed == [str(folder / "lab.lock"), str(folder / "test.lock")]
    assert all((ROOT / path).is_file() for path in installed)


def test_makefile_picks_the_newest_python_that_runs(tmp_path):
    newest, *older = reversed(lock.PYTHONS)
    _fake_python(tmp_path, f"python{newest}", None)  # a pyenv shim of a version not installed
    for version in older:
        _fake_python(tmp_path, f"python{version}", version)
    commands = _make_dry_run(tmp_path, path=tmp_path)
    assert f"{tmp_path / f'python{older[0]}'} -m venv" in commands, commands


# PyPI ---------------------------------------------------------------------------------------


def _files(name, timeout=60):
    """The files PyPI has for the project `name` (PEP 691 JSON simple API)."""
    request = urllib.request.Request(
        SIMPLE_API.format(name), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)["files"]


@pytest.fixture(scope="module")
def pypi_files():
    """`{(name, version): [file, ...]}` for every pin of every lock, fetched in parallel."""
    pins = {(n, v) for version, platform in TARGETS for n, v in _pins(version, platform).items()}
    names = sorted({n for n, _ in pins})
    try:
        _files("pip", timeout=10)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        pytest.skip(f"PyPI cannot be reached ({error}): the locks' wheels are not checked")
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        listings = dict(zip(names, pool.map(_files, names)))
    files = {}
    for name, listing in listings.items():
        for file in listing:
            try:
                _, wheel_version, _, wheel_tags = parse_wheel_filename(file["filename"])
            except (InvalidWheelFilename, InvalidVersion):
                continue  # an sdist, or a wheel of an old release named before PEP 427's rules
            if (name, str(wheel_version)) in pins:
                files.setdefault((name, wheel_version), []).append((file, wheel_tags))
    return files


@pytest.mark.parametrize("version, platform", TARGETS)
def test_every_pin_has_a_wheel_on_pypi(pypi_files, version, platform):
    accepted = _wheel_tags(version, platform)
    missing = []
    for name, pinned in sorted(_pins(version, platform).items()):
        wheels = [
            file for file, wheel_tags in pypi_files.get((name, Version(pinned)), [])
            if wheel_tags & accepted
            and SpecifierSet(file.get("requires-python") or "").contains(lock.PYTHONS[version], prereleases=True)
        ]
        if not wheels:
            missing.append(f"{name}=={pinned}")
    assert not missing, f"no wheel on PyPI for Python {version} on {platform}: {missing}"
