"""Follow calls on the AMI event stream and classify each one once it ends."""
