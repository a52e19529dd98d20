"""What-if runs: sweeps, comparisons and the balance of resources."""
