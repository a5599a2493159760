"""API types shared by every layer: the CRDs' shapes, names and constants."""
