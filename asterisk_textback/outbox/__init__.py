"""The outbox's drain: dispatcher workers, receipts, rate limiting."""
