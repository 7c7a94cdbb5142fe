"""Messaging: templates, channels, the outbox."""
