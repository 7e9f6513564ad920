"""The roof: the `privrec` command, its quiet terminal and the run report. May import every layer."""
