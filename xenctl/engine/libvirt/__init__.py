"""xenctl's libvirt driver: Xen, QEMU/KVM and libvirt's test driver behind the same ``Driver``.

``xml`` maps a domain's config to libvirt's domain XML and back; ``lock`` is the host's lock as a
file on this machine; ``driver`` makes the libvirt calls. libvirt-python is the ``libvirt`` extra
(``pip install 'xenctl[libvirt]'``); ``open_driver`` says so in one line when it is missing.
"""
