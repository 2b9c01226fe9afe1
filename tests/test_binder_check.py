"""The pure helpers of tools/binder_check.py (the browser check itself is run by hand)."""

import importlib.util
import pathlib

_PATH = pathlib.Path(__file__).resolve().parents[1] / "tools" / "binder_check.py"
_SPEC = importlib.util.spec_from_file_location("binder_check", _PATH)
binder_check = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(binder_check)


def test_a_traceback_is_an_error():
    text = ("-----------\nKeyError                 Traceback (most recent call last)\n"
            "Cell In[7], line 15\n")
    assert binder_check.is_error(text)
    assert binder_check.is_error("  Cell In[3], line 1\n    x =\n       ^\n"
                                 "SyntaxError: invalid syntax")


def test_a_warning_is_not_an_error():
    assert not binder_check.is_error(
        "/x/site-packages/torch/nn/modules/module.py:12: UserWarning: an Error-prone default\n"
        "  warnings.warn(\n")
    assert not binder_check.is_error("RuntimeWarning: overflow encountered in exp")


def test_index_urls():
    text = ("# comment\n--extra-index-url https://download.pytorch.org/whl/cpu\n"
            "torch==2.13.0+cpu\n-i https://pypi.org/simple\nnumpy>=1.26\n")
    assert binder_check.index_urls(text) == ["https://download.pytorch.org/whl/cpu",
                                             "https://pypi.org/simple"]


def test_the_substitution_is_the_documented_one():
    text = (_PATH.parents[1] / "binder" / "requirements.txt").read_text()
    assert binder_check.SUBSTITUTION == ("torch==2.13.0+cpu", "torch==2.13.0")
    assert binder_check.SUBSTITUTION[0] in text.splitlines()
