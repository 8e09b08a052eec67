"""FastAGI: the dialplan asks for a text and gets a status back."""
