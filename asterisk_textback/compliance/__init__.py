"""Compliance: the rules of texting (CTIA, 47 CFR 64.1200) checked against the config."""
