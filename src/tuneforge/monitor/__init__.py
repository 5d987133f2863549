"""Production monitoring: the traffic log and the tools that read it."""
