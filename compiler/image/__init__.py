"""The runtime image emitter: ``generated/<deployment>/image/``.

    from compiler.image import emit_image
    artifacts = emit_image(load_spec(Path("spec/assistant.yaml")).environments)

Writes the Dockerfile (jinja2: a Dockerfile is free text), the locked requirements (copied
from the committed ``requirements.lock``; see ``lockfile.py``) and the build's ignore file.
Build from the repository root:

    docker build -f generated/<deployment>/image/Dockerfile .
"""

from compiler.image.emit import emit_image

__all__ = ["emit_image"]
