"""Everything that touches the Asterisk Manager Interface (panoramisk is confined here)."""
