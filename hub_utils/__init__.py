"""Everything needed to publish and load this project's models: Hub push/pull, the topic model
class and encoder resolution. Imports neither ``train`` nor ``app``."""
