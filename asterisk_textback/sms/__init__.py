"""SMS providers: one small adapter per provider behind the :class:`Provider` Protocol."""
