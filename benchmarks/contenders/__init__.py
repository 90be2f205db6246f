"""One module per contender; each runs one workload in its own process and prints one JSON line."""
