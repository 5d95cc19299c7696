import pytest

from .support import assignments


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """generated(name): the folder `otter assign` writes for an assignment (student and autograder)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = assignments.generate(name, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def judge(generated):
    """judge(name, time_limit=60): a Judge on the assignment's autograder tests, made once each."""
    cache = {}

    def get(name, time_limit=60.0):
        if (name, time_limit) not in cache:
            cache[name, time_limit] = assignments.make_judge(generated(name) / "autograder", time_limit)
        return cache[name, time_limit]

    return get
