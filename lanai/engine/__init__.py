"""The Engine: every package operation's business rules, locking and rollback."""
