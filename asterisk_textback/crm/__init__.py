"""CRM hooks: signed JSON webhooks on missed call, text sent, reply, opt-out and booking."""
