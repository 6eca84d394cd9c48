"""Training commands: ``python -m train classify`` and ``python -m train topics``."""
