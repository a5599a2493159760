"""Lanai: package orchestration for kpt packages in Git, as a Kubernetes operator."""

__version__ = "0.1.0"
