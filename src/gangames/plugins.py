"""A user's code, found by name: plug-in modules and ``module:pkg.mod:attr`` references.

Registrations (``register_game``, ``register_loss``, ...) live in the process that made them. A run
that names them must find them again in a worker process, a resumed run or the command line:
``run.plugins`` lists the modules to import first (gangames records the module of every registered
thing a config uses there). Networks and extractors are referred to as ``module:pkg.mod:factory``.
A callable given from Python that cannot be imported by name (a lambda, a function inside another)
is kept for this process only: a worker or a later session must be given it again.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from gangames.errors import ConfigError

PREFIX = "module:"
_LOCAL: dict[str, Any] = {}  # "python:name" -> object, for callables that cannot be imported by name
_ORIGINS: dict[tuple[str, str], str] = {}  # (kind, name) -> the importable module that registered it


def remember_origin(kind: str, name: str) -> None:
    """Called by every ``register_*``: note the module that called it (its caller's caller), unless
    that is a script or gangames itself (a script's top level runs again in spawned workers)."""
    module = sys._getframe(2).f_globals.get("__name__")
    if module and module not in ("__main__", "__mp_main__") and not module.startswith("gangames"):
        _ORIGINS[(kind, name)] = module


def origins(used: list[tuple[str, str | None]]) -> list[str]:
    """The modules that registered the (kind, name) pairs a config uses."""
    found = [_ORIGINS.get((kind, name)) for kind, name in used if name is not None]
    return list(dict.fromkeys(m for m in found if m))


def load_plugins(modules: list[str]) -> None:
    """Import each module (once); a module that fails to import is a one-line error."""
    for name in modules:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception as err:  # an ImportError, or whatever the module raised
            raise ConfigError(f"run.plugins: cannot import {name!r} ({type(err).__name__}: {err})") from None


def reference(obj: Callable) -> str:
    """A name that finds ``obj`` again: ``module:pkg.mod:attr`` if it can be imported, else a name
    valid in this process only (``python:...``)."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if module and qualname and "<" not in qualname:
        try:
            found = resolve(f"{PREFIX}{module}:{qualname}")
        except ConfigError:
            found = None
        if found is obj:
            return f"{PREFIX}{module}:{qualname}"
    key = f"python:{qualname or type(obj).__name__}#{id(obj)}"
    _LOCAL[key] = obj
    return key


def is_reference(text: str | None) -> bool:
    return isinstance(text, str) and (text.startswith(PREFIX) or text.startswith("python:"))


def resolve(text: str) -> Any:
    """The object a reference names."""
    if text.startswith("python:"):
        if text not in _LOCAL:
            raise ConfigError(f"{text} was given from Python in another process (a lambda or a function defined "
                              "inside another); give it again, or define it at the top level of a module")
        return _LOCAL[text]
    target = text.removeprefix(PREFIX)
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{text!r}: expected module:pkg.mod:name")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:
        raise ConfigError(f"{text}: cannot import {module_name} ({type(err).__name__}: {err})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{text}: {module_name} has no {attr}") from None
    return obj


def module_of_reference(text: str | None) -> str | None:
    """The module a ``module:pkg.mod:attr`` reference imports (None for others, scripts, gangames)."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        return None
    module = text.removeprefix(PREFIX).partition(":")[0]
    return None if module in ("__main__", "__mp_main__") or module.startswith("gangames") else module
