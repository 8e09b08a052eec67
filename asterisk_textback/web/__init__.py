"""The HTTP side: health now; provider webhooks and the dashboard build on it."""
