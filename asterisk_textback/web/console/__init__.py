"""The integrator console: every tenant's health and headline figures, and a way into each."""
