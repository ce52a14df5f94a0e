"""servespec runtime: a Starlette + onnxruntime server that speaks the OpenAI API."""
