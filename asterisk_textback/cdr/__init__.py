"""Call history from Asterisk CDR and CEL (files or ``asteriskcdrdb``): answered vs missed."""
