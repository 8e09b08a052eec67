"""One module per SMS provider: its payloads and its code table."""
