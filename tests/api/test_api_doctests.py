"""The doctests of api/ (pytest's --doctest-modules covers other packages, not this one)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["api.security", "api.compare", "api.routes.config", "api.helpdesks.common", "api.helpdesks.chatwoot", "api.helpdesks.zendesk", "api.limits", "api.routes.events"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
