"""Let pytest rewrite the asserts of the helper modules that the test files of tests/optim and
tests/metrics import (test files and conftest.py get this by default; a helper module does not)."""

import pytest

pytest.register_assert_rewrite("optim_contract", "metrics_helpers")
