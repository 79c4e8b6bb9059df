"""Database, models and spatial queries. Knows nothing of HTML."""
