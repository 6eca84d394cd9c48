"""Hub I/O: push model folders, pull them back, deploy the demo Space."""

from hub_utils.hub.space import deploy_space
from hub_utils.hub.transfer import pull, push

__all__ = ["deploy_space", "pull", "push"]
