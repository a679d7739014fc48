import pytest

SYSTEM_MARKERS = ("serve", "faults")


def pytest_collection_modifyitems(config, items):
    """The system tests start whole stacks (minutes, many processes): they run when asked for by
    marker (`pytest -m serve`, `pytest -m faults`), as .ci/run does, not in `make test`."""
    wanted = config.option.markexpr or ""
    for item in items:
        for marker in SYSTEM_MARKERS:
            if marker in item.keywords and marker not in wanted:
                item.add_marker(pytest.mark.skip(reason=f"system test: run with -m {marker}"))
