"""Model facts: parameters, weight bytes, KV bytes and FLOPs per architecture (no time, no machine)."""
