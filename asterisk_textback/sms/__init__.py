"""SMS providers: one small adapter per provider behind the ``Provider`` Protocol."""
