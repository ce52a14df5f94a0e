"""servespec: one reviewed YAML spec becomes a production LLM API on AWS."""

__version__ = "0.1.0"
