"""The one error type for bad input: a machine code, a sentence for people, an HTTP status."""

from __future__ import annotations


class InputError(Exception):
    """What is wrong with an input, said so that a client can fix it."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status

    def __repr__(self) -> str:
        return f"InputError({self.code!r}, {self.detail!r}, {self.status})"
