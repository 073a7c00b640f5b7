"""One tiny registry: every pluggable axis (advantages, losses, masks, rewards, ...) is a name -> function map."""
from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """`@REG.register("name")` adds a function; `REG.get("name")` returns it or lists the known names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(fn: T) -> T:
            if name in self._items and self._items[name] is not fn:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._items[name] = fn
            return fn

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._items))}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items


_USER_MODULES: dict[tuple[str, str], Any] = {}


def load_user_modules(modules: Iterable[str], *, key: str, prefix: str) -> None:
    """Import user files (`path/to/file.py`, relative to the working directory) or dotted module names, once
    per process each; their decorators register what they define. `key` names the config key in errors
    (`reward.modules`); `prefix` the module names files get: one stable name per file
    (prefix + stem + path hash), so processes that import the same file agree and pickling works."""
    for spec in modules:
        if (key, spec) in _USER_MODULES:
            continue
        if spec.endswith(".py") or "/" in spec:
            path = Path(spec).expanduser().resolve()
            if not path.is_file():
                raise FileNotFoundError(f"{key}: file not found: {spec} (resolved to {path})")
            name = f"{prefix}_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
            mod_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[name] = module
            try:
                mod_spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        else:
            module = importlib.import_module(spec)
        _USER_MODULES[key, spec] = module
