"""KV-cache tiers: G1 HBM to G4 shared storage, sized for a workload's prefix reuse."""
