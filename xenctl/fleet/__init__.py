"""A fleet of hosts: placement, coordination, and plans across hosts."""
