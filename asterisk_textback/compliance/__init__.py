"""Compliance: carrier rules for HELP/STOP and first texts, the 10DLC kit, consent evidence."""
