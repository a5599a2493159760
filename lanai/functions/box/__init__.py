"""Functions in a box: every render runs in a worker process with a memory and time cap.

A package's pipeline is code its author chose. Run in the operator's own process, a
starlark script that doubles a string 31 times took the operator to 4-6 GB, and
``[0] * 1000000000`` ended ``lanai fn render`` in a Rust panic. So renders run in a small
pool of persistent worker processes (:mod:`.pool`, started lazily or in the background,
each a fresh interpreter: :mod:`.worker`), one message each way per render
(:mod:`.frames`, :mod:`.jobs`). The worker caps its private memory per job; the parent
enforces each function's deadline by killing the worker, turns any death into a failed
render that names the function and the limit, and starts a new worker. The operator's
own memory does not grow with what a function allocates.
"""
