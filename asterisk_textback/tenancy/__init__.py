"""Tenants: many businesses on one install, each isolated from the others."""
