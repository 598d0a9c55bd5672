"""The built-in QA timings table (see ``timings``): seconds per QA config
key, measured on Debian's Ganeti 3.0.2 (PLACEHOLDER, replaced below)."""

GANETI_VERSION = "3.0.2"
SETUP = 60.0
KEYS: dict[str, float] = {}
