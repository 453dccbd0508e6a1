"""The hypervisor side of xenctl: the driver interface (``api``) and the simulated host (``sim``)."""
