"""A fast path for the YAML package files are written in, exact to ruamel.

Rendering reads and writes every file of a package, and ruamel's round-trip loader and
dumper are pure Python: they were most of a render's time. Lanai's data model stays
ruamel's (functions read and write comments through ``.ca``), so this package produces
exactly the trees ruamel's ``load_all`` would (:mod:`.loader`) and exactly the text its
dumper would write (:mod:`.emitter`), for the block YAML subset package files use. Anything
else raises :class:`Unsupported`, and :mod:`lanai.kpt.yamlio` hands the text to ruamel.
"""

from lanai.kpt.fastyaml.emitter import dump_all
from lanai.kpt.fastyaml.loader import load_all
from lanai.kpt.fastyaml.scanner import Unsupported

__all__ = ["Unsupported", "dump_all", "load_all"]
