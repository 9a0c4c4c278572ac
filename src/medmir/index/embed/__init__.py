"""Embedding backends (ONNX Runtime, PyTorch) behind one driver that owns order, caching and worker death."""
