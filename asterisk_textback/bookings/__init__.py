"""Bookings: the booking webhook and the payloads of each booking tool."""
