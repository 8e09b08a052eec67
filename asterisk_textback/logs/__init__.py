"""What we log about calls and texts: one line per call and per text, numbers masked."""
