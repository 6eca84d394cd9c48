"""Hub I/O: check and push model folders, pull them back, deploy the demo Space."""

from hub_utils.hub.audit import check_folder
from hub_utils.hub.space import deploy_space
from hub_utils.hub.transfer import pull, push

__all__ = ["check_folder", "deploy_space", "pull", "push"]
