"""The Git connection guard as the test bed needs it: its servers listen on 127.0.0.1.

Loopback is refused by default (:mod:`lanai.trust.urls`); tests allow exactly the
address their Git servers use, as the test operator does with ``--allow-git-host``, so
any other loopback address (127.0.0.2, say) stays a forbidden target.
"""

from __future__ import annotations

from lanai.git import egress
from lanai.local import gitserver
from lanai.trust import urls

ALLOWED = gitserver.HOST


def local() -> egress.Egress:
    """A fresh guard that lets Git connections reach 127.0.0.1 and nothing else local."""
    return egress.Egress(urls.AddressPolicy.allowing([ALLOWED]))
