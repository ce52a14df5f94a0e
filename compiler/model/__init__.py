"""The model pipeline: source -> adapter merge -> ONNX with KV cache -> quantized, gated artifact.

Nothing here imports torch, transformers, optimum or boto3 at module import time, so that
`servespec --help` stays fast and the CLI can explain a missing `model` extra.
"""
