"""The typed HTTP client of the Purchase Credits API. It never imports Textual."""
