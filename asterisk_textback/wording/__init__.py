"""Words for people: plain labels for internal values and times in the business's zone."""
