"""The run's numbers: counters summed over workers, PREFIX_ws.csv, progress lines, summary, run record, exports.

Imports users/wire/, users/engine/, users/load/ and users/integration/; never the web UI or the User classes.
"""
