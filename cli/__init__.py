"""The `planner` command line: thin commands over the `planner` library."""
