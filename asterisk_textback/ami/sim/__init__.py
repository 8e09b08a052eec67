"""The built-in AMI server: recorded traces and generated workloads served over TCP."""
