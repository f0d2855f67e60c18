"""Reference models: which outcomes of a program a memory model allows.

    >>> from stressmm.models import get_model, MODELS
    >>> sorted(MODELS)
    ['c11', 'go', 'sc', 'tso']
    >>> get_model("tso").name
    'tso'

Every model object has `.name`, `.description` (one line), `.allowed(program) -> ModelResult`
`.explain(program, pattern) -> Explanation | None` and `.why_forbidden(program, pattern) ->
str` ("" when allowed). Models print nothing. A model that
describes only some programs (c11: memory ops, no Go primitives) has `.applies(program)`;
`applies(model, program)` answers for any model. `rc11` is another name of `c11`.
"""
from __future__ import annotations

from .base import Explanation, ModelResult, OperationalModel
from .explorer import StateLimitError
from .go import GO
from .rc11 import RC11, NotApplicable
from .sc import SC
from .tso import TSO

__all__ = ["MODELS", "get_model", "UnknownModelError", "ModelResult", "Explanation",
           "OperationalModel", "StateLimitError", "NotApplicable", "applies", "ALIASES"]

MODELS = {model.name: model for model in (SC, TSO, GO, RC11)}

ALIASES = {"rc11": "c11"}
"""Other names `get_model` accepts."""


class UnknownModelError(KeyError):
    """A model name that is not in MODELS; the message lists the known ones."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "unknown model"


def get_model(name: str):
    """The model called `name` (see MODELS); raises UnknownModelError for any other name."""
    try:
        return MODELS[ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model {name!r}: known models are "
                                f"{', '.join(sorted(MODELS))}") from None


def applies(model, program) -> bool:
    """Whether `model` (an object or a name) describes `program`.

        >>> from stressmm.program import Program, Thread, Var, Chan, Send
        >>> p = Program("p", (Chan("c", 1),), (Thread((Send("c", 1),)),))
        >>> applies("go", p), applies("c11", p)
        (True, False)
    """
    model = get_model(model) if isinstance(model, str) else model
    check = getattr(model, "applies", None)
    return True if check is None else check(program)
