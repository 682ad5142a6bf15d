"""Serve the packaged `run_census_sync` flow as a deployment until stopped.

Usage: `python serve_run_census_sync.py DEPLOYMENT_NAME`, with `PREFECT_API_URL`
pointing at the server that should hold the deployment.
"""

import sys

from prefect_census import run_census_sync

if __name__ == "__main__":
    run_census_sync.serve(name=sys.argv[1])
