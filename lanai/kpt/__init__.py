"""kpt packages: Kptfiles, package files, ResourceLists and ``kpt fn render``.

Below ``lanai.functions`` in the layer order: render receives a
:class:`lanai.kpt.fnapi.FunctionRuntime` rather than importing one.
"""
