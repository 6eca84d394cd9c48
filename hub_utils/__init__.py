"""Everything needed to publish, load and serve this project's models: Hub push/pull, the topic
model class, encoder resolution, and the plain functions the Gradio app (``app.py``) wires up.
Imports neither ``train`` nor ``app``; a Space ships this package with ``app.py``."""
