"""PackageVariant and PackageVariantSet rules: pure functions, no I/O.

The handlers (``lanai.handlers.packagevariant``, ``lanai.handlers.packagevariantset``)
read the cluster and write through the API; everything they decide is decided here, from
plain values, so it can be tested by tables of cases.
"""
