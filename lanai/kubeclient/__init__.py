"""A small Kubernetes API client shared by the operator and the ``lanai rpkg``/``repo`` CLI.

JSON dicts over aiohttp and nothing more: the generated kubernetes-asyncio client cost
~70 MiB of resident memory for its ~700 model classes, a model round trip per request,
and ~2.5 s of CPU to import in every CLI run. ``client`` speaks to the API server,
``connection`` is where it connects and as whom, ``kubeconfig`` reads that from a
kubeconfig file (contexts, certificates, tokens, exec credential plugins) or from a
pod's ServiceAccount. Nothing here knows Lanai's kinds or imports Lanai's layers.
"""
