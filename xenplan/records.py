"""``record``: ``dataclasses.dataclass`` for the classes every command defines at start-up.

``dataclass`` compiles six methods per class (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, and for a frozen class ``__setattr__`` and
``__delattr__``), one ``exec`` each, when the class is defined. A ``check``
defines some seventy dataclasses before it reads a byte of its input, and
compiling their methods cost it more CPU time than its whole simulation of
the boot. ``record`` lets ``dataclass`` collect the fields (so
``dataclasses.fields``, ``replace`` and ``asdict`` work, and type checkers
see a dataclass) but generate nothing; equality, hashing, ``repr`` and the
frozen ``__setattr__`` are shared functions driven by the class's field
names. ``__init__``, the one method whose speed matters (it runs once per
object, hundreds of thousands of times on a large board), starts generic
and is compiled for the class once the class has made ``COMPILE_AFTER``
objects: most classes make a handful in a run and never pay for it.

The behaviour is ``dataclass``'s for the options supported here (``frozen``,
``slots``, ``kw_only``, ``eq``; field defaults, ``default_factory``,
``repr=False``, ``compare=False``): equality compares the fields with
``compare=True``, in order, between objects of the same class; a frozen
class hashes them; a mutable class with equality is unhashable.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError, dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")


@overload
def record(cls: type[_T], /) -> type[_T]: ...


@overload
def record(*, frozen: bool = False, slots: bool = False, kw_only: bool = False,
           eq: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[_T] | None = None, /, *, frozen: bool = False, slots: bool = False, kw_only: bool = False,
           eq: bool = True) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """``@dataclass`` with the same options, defined without compiling any method (module docstring)."""

    def wrap(c: type[_T]) -> type[_T]:
        return _build(c, frozen=frozen, slots=slots, kw_only=kw_only, eq=eq)

    return wrap if cls is None else wrap(cls)


def _build(cls: type[_T], *, frozen: bool, slots: bool, kw_only: bool, eq: bool) -> type[_T]:
    if _FIELD is None:
        if not cls.__doc__:
            cls.__doc__ = cls.__name__  # else dataclass() renders a signature for it
        cls = dataclass(slots=slots, kw_only=kw_only, init=False, repr=False, eq=False)(cls)
    else:
        cls = _collect(cls, slots=slots, kw_only=kw_only)
    fs = fields(cls)  # type: ignore[arg-type]
    attrs: dict[str, Any] = {"__init__": _lazy_init(cls, frozen), "__repr__": _repr,
                             "_record_repr": tuple(f.name for f in fs if f.repr)}
    if eq:
        hashed = tuple(f.name for f in fs if (f.compare if f.hash is None else f.hash))
        attrs.update({"__eq__": _eq, "_record_key": _key(tuple(f.name for f in fs if f.compare)),
                      "__hash__": _hash if frozen else None, "_record_hash_key": _key(hashed)})
    if frozen:
        attrs.update({"__setattr__": _frozen_setattr, "__delattr__": _frozen_delattr})
        if slots:
            attrs.update({"__getstate__": _getstate, "__setstate__": _setstate})
    for name, v in attrs.items():
        setattr(cls, name, v)
    return cls


_FIELD = getattr(dataclasses, "_FIELD", None)
"""The marker ``dataclasses`` gives a field proper (not a ``ClassVar`` or ``InitVar``)."""


def _collect(cls: type[_T], *, slots: bool, kw_only: bool) -> type[_T]:
    """What ``dataclass(init=False, repr=False, eq=False)`` does to ``cls``, in a fraction of its time.

    The fields (the bases' first, then the class's own annotations in order) go in
    ``__dataclass_fields__`` as ``dataclasses.Field`` objects, so ``fields``, ``replace`` and
    ``asdict`` work; with ``slots`` the class is remade with one slot per own field. ``dataclass``
    spends most of its time resolving each string annotation to rule out ``ClassVar`` and
    ``InitVar``: neither is allowed here, refused by name. Used only where ``dataclasses``
    marks fields as this Python's (3.11 to 3.14) does; otherwise ``_build`` calls ``dataclass``."""
    own = inspect.get_annotations(cls)
    out: dict[str, Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        out.update(getattr(base, "__dataclass_fields__", {}))
    for name, tp in own.items():
        text = tp if isinstance(tp, str) else getattr(tp, "__name__", "")
        if "ClassVar" in text or "InitVar" in text or "KW_ONLY" in text:
            raise TypeError(f"{cls.__qualname__}.{name}: record takes no ClassVar, InitVar or KW_ONLY")
        default = cls.__dict__.get(name, MISSING)
        f: Field[Any] = default if isinstance(default, Field) else field(default=default)
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(f"{cls.__qualname__}.{name}: mutable default {type(f.default).__name__}: "
                             "use default_factory")
        f.name, f.type = name, tp
        f._field_type = _FIELD  # type: ignore[attr-defined]
        if f.kw_only is MISSING:
            f.kw_only = kw_only
        out[name] = f
        if isinstance(default, Field):
            if f.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    if slots:
        body = {k: v for k, v in cls.__dict__.items() if k not in own and k not in ("__dict__", "__weakref__")}
        inherited = {s for base in cls.__mro__[1:] for s in getattr(base, "__slots__", ())}
        body["__slots__"] = tuple(n for n in own if n not in inherited)
        qualname = cls.__qualname__
        meta: Any = type(cls)
        cls = meta(cls.__name__, cls.__bases__, body)
        cls.__qualname__ = qualname
    extra = {"__dataclass_fields__": out, "__match_args__": tuple(n for n, f in out.items() if not f.kw_only)}
    for key, v in extra.items():
        setattr(cls, key, v)
    return cls


COMPILE_AFTER = 32
"""Objects a class makes through the generic ``__init__`` before its own is compiled. Compiling
costs as much as 30 to 60 generic calls' overhead (a few µs each), and most classes make fewer
objects than that in a run (the system, the target, the boot state: one each): a ``check`` of a
small board compiles 8 of the 54 it instantiates."""


def _lazy_init(cls: type, frozen: bool) -> Callable[..., None]:
    """A generic ``__init__`` that, at the ``COMPILE_AFTER``-th object, compiles ``cls``'s own
    (``_compile_init``) and puts it on the class; both behave as ``dataclass``'s would."""
    spec: list[tuple[str, Any, Any]] = [(f.name, f.default, f.default_factory) for f in fields(cls)]
    positional = [f.name for f in fields(cls) if not f.kw_only]
    names = {name for name, _, _ in spec}
    setter = object.__setattr__ if frozen else setattr
    made = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made >= COMPILE_AFTER:
            real = _compile_init(cls, frozen)
            type.__setattr__(cls, "__init__", real)
            real(self, *args, **kwargs)
            return
        if args:
            if len(args) > len(positional):
                raise TypeError(f"{cls.__qualname__}() takes {len(positional)} positional arguments "
                                f"but {len(args)} were given")
            given = dict(zip(positional, args, strict=False))
            if not given.keys().isdisjoint(kwargs):
                raise TypeError(f"{cls.__qualname__}() got multiple values for {set(given) & set(kwargs)}")
            given.update(kwargs)
        else:
            given = kwargs
        if not names.issuperset(given):
            raise TypeError(f"{cls.__qualname__}() got unexpected keyword arguments {set(given) - names}")
        for name, default, factory in spec:
            v = given.get(name, MISSING)
            if v is MISSING:
                if default is not MISSING:
                    v = default
                elif factory is not MISSING:
                    v = factory()
                else:
                    raise TypeError(f"{cls.__qualname__}() missing required argument {name!r}")
            setter(self, name, v)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _compile_init(cls: type, frozen: bool) -> Callable[..., None]:
    """``dataclass``'s ``__init__`` for ``cls``: fields in order, keyword-only ones after ``*``."""
    env: dict[str, Any] = {"_set": object.__setattr__, "_MISSING": MISSING}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for f in fields(cls):
        name = f.name
        if f.default is not MISSING:
            env[f"_d_{name}"] = f.default
            param, value = f"{name}=_d_{name}", name
        elif f.default_factory is not MISSING:
            env[f"_f_{name}"] = f.default_factory
            param, value = f"{name}=_MISSING", f"_f_{name}() if {name} is _MISSING else {name}"
        else:
            param, value = name, name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    params = ["self", *positional, *(["*", *keyword] if keyword else [])]
    text = f"def __init__({', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    exec(text, env)  # the text names only the class's own fields
    fn: Callable[..., None] = env["__init__"]
    fn.__qualname__ = f"{cls.__qualname__}.__init__"
    return fn


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of these fields' values, as ``dataclass`` compares and hashes them."""
    if len(names) >= 2:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda _obj: ()


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self._record_key
    return key(self) == key(other)


def _hash(self: Any) -> int:
    return hash(self._record_hash_key(self))


def _repr(self: Any) -> str:
    return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._record_repr)})"


def _frozen_setattr(self: Any, name: str, _value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    """A frozen slotted object's state, for ``copy`` and ``pickle`` (which cannot ``setattr`` it back)."""
    return [getattr(self, f.name) for f in fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, v in zip(fields(self), state, strict=True):
        object.__setattr__(self, f.name, v)

