"""A local stand-in for a cluster: the Go-built control plane and a Git server.

The e2e suite and ``lanai up`` (the README's run command on a machine without a
cluster) share these, so what a newcomer runs is what the tests prove.
"""
