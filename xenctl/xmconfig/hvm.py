"""A fully virtualised (HVM) guest's keys in an xm config, to ``HvmConfig`` and back.

An HVM guest is one with ``builder = 'hvm'`` (``'vmx'`` in Xen 3.0's first examples). Its
``kernel`` is the firmware loader, ``hvmloader``, and ``device_model`` the emulator (``qemu-dm``,
or ``stubdom-dm`` for a device model in a stub domain). xm kept a bare ``hvmloader`` for xend to
find in Xen's boot directory, and xend looked a bare device model up in Xen's binaries
(``auxbin.pathTo``): xenctl writes those full paths. The other keys are the emulated machine's,
by xm's names and types: ``boot`` (drives in boot order, ``a`` floppy, ``c`` disk, ``d`` cdrom,
``n`` network), the flags ``acpi apic pae vnc vncunused sdl opengl stdvga nographic usb
localtime`` (0 or 1), ``vncdisplay`` (a number), and the words ``vnclisten vncpasswd serial
usbdevice keymap soundhw``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from xenctl.engine.api import HvmConfig

XEN_BOOT_DIR = "/usr/lib/xen/boot"  # where xend finds hvmloader and pv-grub
XEN_BIN_DIR = "/usr/lib/xen/bin"  # where xend finds qemu-dm and stubdom-dm
HVMLOADER = f"{XEN_BOOT_DIR}/hvmloader"
HVM_BUILDERS = ("hvm", "vmx")
FLAGS = ("acpi", "apic", "pae", "vnc", "vncunused", "sdl", "opengl", "stdvga", "nographic", "usb", "localtime")
NUMBERS = ("vncdisplay",)
WORDS = ("boot", "vnclisten", "vncpasswd", "serial", "usbdevice", "keymap", "soundhw")
KEYS = ("device_model", *FLAGS, *NUMBERS, *WORDS)
_ORDER = tuple(f.name for f in fields(HvmConfig))


def is_hvm(builder: str) -> bool:
    return builder in HVM_BUILDERS


def xen_path(value: str, directory: str) -> str:
    """A bare file name as xend found it, in one of Xen's directories; a path as it is."""
    return value if os.path.dirname(value) else f"{directory}/{value}"


def read_hvm(options: dict[str, Any], fail: Callable[[str, str], Exception]) -> HvmConfig:
    """The HVM settings of a config's options; ``fail(key, message)`` makes the error to raise."""
    values: dict[str, Any] = {}
    for key in KEYS:
        value = options.get(key)
        if value is None:
            continue
        if key in FLAGS:
            if isinstance(value, str) and value.strip() in ("0", "1"):
                value = int(value)
            if value not in (0, 1) or isinstance(value, float):
                raise fail(key, f"{value!r} is not 0 or 1")
            values[key] = bool(value)
        elif key in NUMBERS:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 60000:
                raise fail(key, f"{value!r} is not a display number (0 and up)")
            values[key] = value
        elif not isinstance(value, str):
            raise fail(key, f"{value!r} is not a string")
        elif key == "device_model":
            values[key] = xen_path(value, XEN_BIN_DIR)
        else:
            values[key] = value
    return HvmConfig(**values)


def hvm_lines(hvm: HvmConfig) -> list[tuple[str, Any]]:
    """The settings as xm writes them: the device model, then what is not xend's default, flags as 0 or 1."""
    items: list[tuple[str, Any]] = []
    for key, value in asdict(hvm).items():
        if value is None:
            continue
        items.append((key, int(value) if isinstance(value, bool) else value))
    return sorted(items, key=lambda item: _ORDER.index(item[0]))
