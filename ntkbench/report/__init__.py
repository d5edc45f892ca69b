"""The run's report: a self-contained HTML page and a results.json."""
