"""The running service: lifecycle, reload, health, heap."""
