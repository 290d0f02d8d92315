"""The ``check_fixture`` fixture of the rule tests (the machinery is in ``rulecases.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rulecases import fired


@pytest.fixture
def check_fixture() -> Callable[..., set[tuple[str, str | None]]]:
    return fired
