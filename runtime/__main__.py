"""``python -m runtime``: the image's entry point; everything comes from SERVESPEC_* variables."""

from runtime.server import serve
from runtime.settings import Settings

if __name__ == "__main__":
    serve(Settings.from_env())
