"""One contract suite that every SMS adapter runs, through a small per-vendor driver."""
