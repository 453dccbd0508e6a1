"""Autostart: the entries in ``<xen root>/auto``, runlevels, ordered boot and stop, the watcher."""
