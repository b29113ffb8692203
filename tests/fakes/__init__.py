"""In-process fakes of external services, served on loopback only (no network)."""
