"""The repository cache: each Repository opened once, its revisions indexed in memory."""
