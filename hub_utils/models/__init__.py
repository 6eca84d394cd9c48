"""The saved model formats and their loaders: the classifier (transformers files plus an int8
ONNX export) and the topic model (safetensors and JSON plus an ONNX export)."""
