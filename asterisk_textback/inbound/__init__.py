"""Inbound texts: the inbox, consent keywords, replies forwarded to staff, opt-out CSV."""
