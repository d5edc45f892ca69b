"""The one error a user gets for missing or unreadable data."""


class DataError(Exception):
    """A dataset file is missing, malformed or not where `--data-dir` says."""
