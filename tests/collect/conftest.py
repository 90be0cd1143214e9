"""Fixtures of the collection tests; helpers live in `collect_testing` (see tests/conftest.py for why)."""

from tests.collect.collect_testing import make_env, server  # noqa: F401  (fixtures registered by import)
