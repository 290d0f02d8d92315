"""Configuration files: ``[tool.xenplan]`` in ``pyproject.toml``, or a ``xenplan.toml``.

A repository of board files states its target once instead of on every
command line, as ruff and yamllint users expect. Each input finds its own
configuration by walking up from its folder (the first ``xenplan.toml``, or
``pyproject.toml`` with a ``[tool.xenplan]`` table, wins; in one folder
``xenplan.toml`` comes first), unless ``--config FILE`` names one for every
input. ``[[per-file]]`` entries apply to inputs whose path, relative to the
configuration's folder, matches their ``glob``.

Each setting is taken from the first of: the command line, the last matching
per-file entry that sets it, the configuration's top level, the default. A
value replaces the whole value below it (a ``kconfig`` table on the command
line is not merged with the configuration's). Paths in a configuration are
relative to its folder. ``docs/configuration.md`` is the reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal

from xenplan.errors import InputError, UsageError
from xenplan.records import record

if TYPE_CHECKING:
    from xenplan.config_file import Config
    from xenplan.tomlfile import KeyPath

NAMES = ("xenplan.toml", "pyproject.toml")
"""Files a folder is searched for, in order."""

OPTIONS: dict[str, str] = {
    "xen-version": "xen_version", "arch": "arch", "kconfig": "kconfig", "kconfig-file": "kconfig_file",
    "xen-image": "xen_image", "fdt-address": "fdt_address", "pa-bits": "pa_bits", "board": "board",
    "gic-spis": "gic_spis", "include": "include_dirs", "select": "select", "ignore": "ignore",
    "fail-on": "fail_on", "ignore-nodes": "ignore_nodes",
}
"""Configuration key -> the command line's parameter name."""

PATH_KEYS = ("kconfig-file", "include", "board")
"""Keys whose values are paths, resolved against the configuration's folder (a board only when not a bundled name)."""


@record(frozen=True)
class Setting:
    value: Any
    origin: Literal["default", "config", "per-file", "command line"]
    file: str | None = None
    """The configuration file that set it (config and per-file origins)."""
    line: int | None = None
    glob: str | None = None

    @property
    def where(self) -> str | None:
        """``file:line`` of the key that set it."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def describe(self) -> str:
        if self.origin == "config":
            return f"config {self.where}"
        if self.origin == "per-file":
            return f'per-file "{self.glob}" {self.where}'
        return self.origin


@record(frozen=True)
class NodeIgnore:
    """One ``ignore-nodes`` entry: the rules ignored at a node, and where that was written."""

    path: str
    codes: tuple[str, ...]
    origin: str
    """How ``xenplan config`` describes where the entry was set."""
    file: str | None
    line: int | None


@record(frozen=True)
class InputSettings:
    """The settings in force for one input, and where each came from."""

    input: str
    config: str | None
    settings: dict[str, Setting] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.settings[name].value

    def target_key(self) -> tuple[Any, ...]:
        """What the target depends on, hashable: inputs with equal keys share one ``Target``."""
        return tuple(_frozen(self[k]) for k in ("xen_version", "arch", "kconfig", "xen_image", "fdt_address",
                                                 "pa_bits", "gic_spis", "board", "kconfig_file"))

    def blame(self, exc: UsageError) -> Exception:
        """A value the target refused, as an error at its configuration key when it came from one."""
        name = exc.option.lstrip("-").replace("-", "_")
        name = "include_dirs" if name == "include" else name
        st = self.settings.get(name)
        if st is None or st.file is None:
            return exc
        key = next(k for k, n in OPTIONS.items() if n == name)
        return InputError(st.file, f"{key}: {exc.message}", line=st.line)

    def node_ignores(self) -> list[NodeIgnore]:
        s = self.settings["ignore_nodes"]
        return [NodeIgnore(path, tuple(codes), s.describe(), s.file, s.line) for path, codes in (s.value or {}).items()]


def _frozen(v: Any) -> Any:
    if isinstance(v, Mapping):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_frozen(x) for x in v)
    return v


def find_config(folder: str) -> str | None:
    """The configuration that applies in ``folder``: the nearest one on the way up to the root.

    ``os.path`` rather than ``pathlib``, here and below: this runs on every check, and ``pathlib``
    (with ``fnmatch``, ``urllib.parse`` and ``ipaddress``) would be a few ms of its start-up."""
    d = os.path.realpath(folder)
    while True:
        for name in NAMES:
            candidate = os.path.join(d, name)
            if os.path.isfile(candidate) and (name != "pyproject.toml" or _has_tool_table(candidate)):
                return _shown(candidate)
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_tool_table(path: str) -> bool:
    """Whether a ``pyproject.toml`` has ``[tool.xenplan]`` (one without it is skipped, as ruff does)."""
    import tomllib

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return False
    if "xenplan" not in text:
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return True  # let load_config report the syntax error with its line
    tool = data.get("tool")
    return isinstance(tool, dict) and "xenplan" in tool


def _shown(path: str) -> str:
    """A path relative to the working folder when it lies below it, so messages stay short."""
    cwd = os.getcwd()
    below = path.startswith(cwd.rstrip(os.sep) + os.sep)
    return os.path.relpath(path, cwd) if below else path


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``glob`` as a regular expression over ``/``-separated paths: ``*`` and ``?`` stay in one folder,
    ``**/`` matches any number of folders, ``[...]`` is a character class."""
    out, i, n = "", 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:[^/]*/)*"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j < 0:
                out += re.escape(c)
            else:
                body = pattern[i + 1:j]
                out += "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
                i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out)


def _relative(input_path: str, folder: str) -> str | None:
    if input_path == "-":
        return None
    rel = os.path.relpath(os.path.abspath(input_path), os.path.abspath(folder))
    return rel.replace(os.sep, "/")


def _config_value(cfg: Config, key: str, value: Any) -> Any:
    """A configuration value as the command line's parameter would hold it, paths resolved."""
    if key == "kconfig":
        if isinstance(value, dict):
            return tuple(f"{k}={'y' if v else 'n'}" for k, v in value.items())
        return tuple(value)
    if key in ("select", "ignore"):
        return tuple(value)
    if key == "include":
        return tuple(_under(cfg.folder, v) for v in value)
    if key == "kconfig-file":
        return _under(cfg.folder, value)
    if key == "board":
        from xenplan.boards import BOARDS

        return value if value in BOARDS else _under(cfg.folder, value)
    if key == "ignore-nodes":
        return dict(value)
    return value


def _under(folder: str, path: str) -> str:
    return os.path.normpath(os.path.join(folder, os.path.expanduser(path)))


def settings_for(input_path: str, given: Mapping[str, Any], explicit: set[str], config_file: str | None,
                 ignore_config: bool = False) -> InputSettings:
    """The settings in force for ``input_path``.

    ``given`` holds the command line's values by parameter name (a default
    where the option was not given); ``explicit`` names the parameters the
    user gave. ``config_file`` is ``--config``: used for every input, no
    discovery.
    """
    settings = {name: Setting(given.get(name), "command line" if name in explicit else "default")
                for name in OPTIONS.values()}
    if settings["ignore_nodes"].value is None:
        settings["ignore_nodes"] = Setting({}, "default")
    if ignore_config:
        return InputSettings(input_path, None, settings)
    path = config_file
    if path is None:
        if input_path == "-":
            folder = os.getcwd()
        elif os.path.isdir(input_path):
            folder = os.path.abspath(input_path)
        else:
            folder = os.path.dirname(os.path.abspath(input_path))
        path = find_config(folder)
    if path is None:
        return InputSettings(input_path, None, settings)
    from xenplan.config_file import Options, load_config

    cfg = load_config(path)
    layers: list[tuple[Options, KeyPath, str | None]] = [(cfg.model, (), None)]
    rel = _relative(input_path, cfg.folder)
    for i, entry in enumerate(cfg.model.per_file):
        if rel is not None and glob_regex(entry.glob).fullmatch(rel):
            layers.append((entry, ("per-file", i), entry.glob))
    for model, prefix, glob in layers:
        for key in sorted(model.model_fields_set):
            if key in ("per_file", "glob"):
                continue
            alias = Options.model_fields[key].alias or key
            name = OPTIONS[alias]
            if name in explicit:
                continue
            settings[name] = Setting(_config_value(cfg, alias, getattr(model, key)),
                                     "config" if glob is None else "per-file", cfg.file,
                                     cfg.line((*prefix, alias)), glob)
    return InputSettings(input_path, path, settings)


def config_files(all_settings: Sequence[InputSettings]) -> list[str]:
    """The configuration files a run read (``-o`` and a baseline may name none of them)."""
    return list(dict.fromkeys(s.config for s in all_settings if s.config is not None))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def render_settings(all_settings: Sequence[InputSettings], fmt: str) -> str:
    """``xenplan config``: each setting's value and where it came from, as text or JSON."""
    import json

    keys = {name: key for key, name in OPTIONS.items()}
    if fmt == "json":
        docs = [{"input": s.input, "config": s.config, "settings": {
            keys[name]: {"value": _plain(st.value), "origin": st.origin,
                         **({"file": st.file, "line": st.line} if st.file else {}),
                         **({"glob": st.glob} if st.glob else {})}
            for name, st in s.settings.items()}} for s in all_settings]
        return json.dumps(docs if len(docs) > 1 else docs[0], indent=1) + "\n"
    out: list[str] = []
    for s in all_settings:
        out.append(f"{s.input}: configuration {s.config or '(none found)'}")
        width = max(len(k) for k in OPTIONS)
        for name, st in s.settings.items():
            value = _plain(st.value)
            shown = "-" if value in (None, [], {}) else json.dumps(value) if not isinstance(value, str) else value
            out.append(f"  {keys[name]:<{width}}  {shown:<24}  {st.describe()}")
    return "\n".join(out) + "\n"
