"""Durable storage: typed models, the outbox, contacts, and packaged migrations."""
