"""Machine facts: kernel efficiency by shape, balance points, packing units onto nodes and racks, power."""
