"""Serving a workload: demand, pools of units, the cluster, and the layout search."""
