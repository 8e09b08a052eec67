"""Compliance: the 10DLC registration kit and the consent evidence of each number."""
