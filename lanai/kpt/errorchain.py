"""kpt's error chain, as its ``Rendered`` condition message spells it.

kpt wraps an error at each level it passes (``pkg.render: pkg ./db:``), and its error
type prints a wrapped error of its own kind on a new, tab-indented line but a plain error
on the same line; wrapping also blanks a wrapped error's operation or package when they
repeat the wrapper's. The message a Kptfile records depends on all three rules, so they
are modelled here rather than written out case by case.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

RENDER = "pkg.render"


@dataclass(frozen=True)
class Link:
    """One wrapping: an operation, a package (as kpt shows it) and what it wraps."""

    op: str = ""
    pkg: str = ""
    wrapped: Link | str | None = None

    def zero(self) -> bool:
        return not self.op and not self.pkg and self.wrapped is None


def wrap(op: str, pkg: str, wrapped: Link | str) -> Link:
    """kpt's ``errors.E(op, pkg, err)``."""
    if isinstance(wrapped, Link):
        wrapped = replace(
            wrapped,
            op="" if wrapped.op == op else wrapped.op,
            pkg="" if wrapped.pkg == pkg else wrapped.pkg,
        )
    return Link(op, pkg, wrapped)


def text(link: Link) -> str:
    """The message kpt's ``Error()`` gives for ``link``."""
    out = ""
    if link.op:
        out = link.op
    if link.pkg:
        out += (": " if out else "") + "pkg " + link.pkg
    inner = link.wrapped
    if isinstance(inner, Link):
        if not inner.zero():
            out += (":\n\t" if out else "") + text(inner)
    elif inner is not None:
        out += (": " if out else "") + inner
    return out or "no error"
