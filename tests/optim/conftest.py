"""tests/optim: let pytest rewrite the asserts of the shared tests in optim_contract.py too."""

import pytest

pytest.register_assert_rewrite("optim_contract")
