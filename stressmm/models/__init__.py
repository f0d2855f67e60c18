"""Reference models: which outcomes of a program a memory model allows.

    >>> from stressmm.models import get_model, MODELS
    >>> sorted(MODELS)
    ['go', 'sc', 'tso']
    >>> get_model("tso").name
    'tso'

Every model object has `.name`, `.description` (one line), `.allowed(program) -> ModelResult`
and `.explain(program, pattern) -> Explanation | None`. Models print nothing.
"""
from __future__ import annotations

from .base import Explanation, ModelResult, OperationalModel
from .explorer import StateLimitError
from .go import GO
from .sc import SC
from .tso import TSO

__all__ = ["MODELS", "get_model", "UnknownModelError", "ModelResult", "Explanation",
           "OperationalModel", "StateLimitError"]

MODELS = {model.name: model for model in (SC, TSO, GO)}


class UnknownModelError(KeyError):
    """A model name that is not in MODELS; the message lists the known ones."""

    def __str__(self) -> str:
        return self.args[0] if self.args else "unknown model"


def get_model(name: str):
    """The model called `name` (see MODELS); raises UnknownModelError for any other name."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model {name!r}: known models are "
                                f"{', '.join(sorted(MODELS))}") from None
