"""Performance of one serving unit: collectives, the HBM budget, per-phase times, and the one unit evaluation."""
