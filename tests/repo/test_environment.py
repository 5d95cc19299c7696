"""pyproject.toml, environment.yml and the lock files must not drift apart."""

import importlib.util
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("course_lock", ROOT / "scripts" / "lock.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


def _key(requirement):
    r = Requirement(requirement)
    return (r.name.lower(), tuple(sorted(r.extras)), str(r.specifier), str(r.marker or ""))


def _pyproject_requirements(extras=lock.TEST_EXTRAS):  # what `make test` installs
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return requirements


def _lock_pins(name):
    pins = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-r")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            pins[requirement.name.lower()] = str(requirement.specifier).removeprefix("==")
    return pins


def test_environment_yml_lists_the_pyproject_packages():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_key(r) for r in pip_section if not r.startswith("-e")}
    declared = {_key(r) for r in _pyproject_requirements()}
    assert listed == declared, (
        f"only in environment.yml: {sorted(listed - declared)}; "
        f"only in pyproject.toml: {sorted(declared - listed)}"
    )


def test_locks_pin_every_declared_package_within_its_range():
    pins = {**_lock_pins("lab.lock"), **_lock_pins("test.lock")}
    for text in _pyproject_requirements():
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = requirement.name.lower()
        assert name in pins, f"{name} is declared in pyproject.toml but not locked"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside pyproject.toml's range {requirement.specifier}"
        )


def test_lab_and_test_locks_do_not_overlap():
    assert not set(_lock_pins("lab.lock")) & set(_lock_pins("test.lock"))
    assert (ROOT / "requirements" / "test.lock").read_text().count("-r lab.lock") == 1


def test_installed_environment_matches_the_locks():
    # `make test` installs the locks; a stale .venv or a hand-installed package shows here.
    pins = {**_lock_pins("lab.lock"), **_lock_pins("test.lock")}
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked vs installed: {wrong}"
