"""Reports from a load test's CSV files: Locust's `--csv PREFIX` files plus our `PREFIX_ws.csv`."""
