"""Let pytest rewrite the asserts of the helper modules that the test files of tests/optim and
tests/metrics import (test files and conftest.py get this by default; a helper module does not).
Point dlcore's data cache at a fresh folder for the session, so that no test reads a file an
earlier run (or a reader's session) left in ~/.cache/dlcore."""

import pytest

pytest.register_assert_rewrite("optim_contract", "metrics_helpers")


@pytest.fixture(autouse=True, scope="session")
def _fresh_data_cache(tmp_path_factory):
    from dlcore import data

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DLCORE_CACHE", str(tmp_path_factory.mktemp("dlcore-cache")))
        data._mnist1d_arrays.cache_clear()
        yield
    data._mnist1d_arrays.cache_clear()
