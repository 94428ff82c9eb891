"""The command center web app: Panel pages served by ``command-center serve``."""
