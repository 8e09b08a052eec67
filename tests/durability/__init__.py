"""Durability tests: the service killed or raced at the worst moment loses no opt-out."""
