"""credits-tui: Purchase Credits in the terminal."""

__version__ = "0.1.0"
