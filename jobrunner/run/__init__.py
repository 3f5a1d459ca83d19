"""Running the queue: the claim loop, one attempt per claimed job, leases, limits, outcomes."""
