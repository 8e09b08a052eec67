"""Architecture rules checked on the package itself: imports, cycles, layout, module size."""
