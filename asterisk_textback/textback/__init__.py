"""The text-back step: a finished call is recorded, decided, rendered and enqueued."""
