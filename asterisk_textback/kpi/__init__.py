"""What the texts earned: the DESIGN §8 KPIs, conversions, A/B statistics, the calculator."""
