"""User hooks named in the config as "package.module:function" or "path/to/file.py:function"."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

from .errors import UserInputError


def load_hook(spec: str, key: str) -> Callable:
    """The callable that `spec` names; `key` is the config key, for the message."""
    module_name, sep, attr = str(spec).rpartition(":")
    if not sep or not module_name or not attr:
        raise UserInputError(
            f"'{key}' as module:function",
            repr(spec),
            f"write e.g. {key}: mypackage.tokens:split_code or {key}: hooks.py:split_code",
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            loader_spec = importlib.util.spec_from_file_location(f"memaudit_hook_{path.stem}", path)
            if loader_spec is None or loader_spec.loader is None or not path.is_file():
                raise FileNotFoundError(module_name)
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except (ImportError, FileNotFoundError) as e:
        raise UserInputError(
            f"an importable module for '{key}'",
            f"{module_name}: {e}",
            "install the module, put it on PYTHONPATH, or give the path of a .py file",
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UserInputError(
            f"a function '{attr}' in {module_name} for '{key}'",
            "no such callable",
            f"define def {attr}(...) in {module_name}",
        )
    return fn
