"""Every command of ``xenctl``, by its words on the command line, and the function that runs it.

The table is what ``main`` dispatches through. Each entry imports its module only when its
command runs, so ``xenctl --help`` and ``xenctl list`` do not pay for YAML, JSON Schema or
networkx; mypy checks every entry against the function it names.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Handler] = {}


def command(words: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[words] = handler
        return handler

    return register


@command("create")
def _create(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_create

    return run_create(args)


@command("console")
def _console(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_console

    return run_console(args)


@command("shutdown")
def _shutdown(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_shutdown

    return run_shutdown(args)


@command("reboot")
def _reboot(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_reboot

    return run_reboot(args)


@command("destroy")
def _destroy(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_destroy

    return run_destroy(args)


@command("pause")
def _pause(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_pause

    return run_pause(args)


@command("unpause")
def _unpause(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_unpause

    return run_unpause(args)


@command("migrate")
def _migrate(args: argparse.Namespace) -> int:
    from xenctl.cli.migrate import run_migrate

    return run_migrate(args)


@command("save")
def _save(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_save

    return run_save(args)


@command("restore")
def _restore(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_restore

    return run_restore(args)


@command("mem-set")
def _mem_set(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_mem_set

    return run_mem_set(args)


@command("vcpu-set")
def _vcpu_set(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_vcpu_set

    return run_vcpu_set(args)


@command("top")
def _top(args: argparse.Namespace) -> int:
    from xenctl.cli.xm import run_top

    return run_top(args)


@command("import")
def _import(args: argparse.Namespace) -> int:
    from xenctl.cli.importing import run_import

    return run_import(args)


@command("plan")
def _plan(args: argparse.Namespace) -> int:
    from xenctl.cli.plans import run_plan

    return run_plan(args)


@command("apply")
def _apply(args: argparse.Namespace) -> int:
    from xenctl.cli.plans import run_apply

    return run_apply(args)


@command("graph")
def _graph(args: argparse.Namespace) -> int:
    from xenctl.cli.plans import run_graph

    return run_graph(args)


@command("force-unlock")
def _force_unlock(args: argparse.Namespace) -> int:
    from xenctl.cli.plans import run_force_unlock

    return run_force_unlock(args)


@command("list")
def _list(args: argparse.Namespace) -> int:
    if args.all_hosts:
        from xenctl.cli.fleet import run_list_all

        return run_list_all(args)
    from xenctl.cli.listing import run_list

    return run_list(args)


@command("events")
def _events(args: argparse.Namespace) -> int:
    from xenctl.cli.listing import run_events

    return run_events(args)


@command("host show")
def _host_show(args: argparse.Namespace) -> int:
    from xenctl.cli.hostcmds import run_show

    return run_show(args)


@command("host init")
def _host_init(args: argparse.Namespace) -> int:
    from xenctl.cli.hostcmds import run_init

    return run_init(args)


@command("host fault add")
def _host_fault_add(args: argparse.Namespace) -> int:
    from xenctl.cli.hostcmds import run_fault_add

    return run_fault_add(args)


@command("host fault list")
def _host_fault_list(args: argparse.Namespace) -> int:
    from xenctl.cli.hostcmds import run_fault_list

    return run_fault_list(args)


@command("host fault clear")
def _host_fault_clear(args: argparse.Namespace) -> int:
    from xenctl.cli.hostcmds import run_fault_clear

    return run_fault_clear(args)


@command("validate")
def _validate(args: argparse.Namespace) -> int:
    from xenctl.cli.specs import run_validate

    return run_validate(args)


@command("schema")
def _schema(args: argparse.Namespace) -> int:
    from xenctl.cli.specs import run_schema

    return run_schema(args)


@command("new")
def _new(args: argparse.Namespace) -> int:
    from xenctl.cli.wizard import run_new

    return run_new(args)


@command("runlevel")
def _runlevel(args: argparse.Namespace) -> int:
    from xenctl.cli.autostart import run_runlevel

    return run_runlevel(args)


@command("boot")
def _boot(args: argparse.Namespace) -> int:
    from xenctl.cli.autostart import run_boot

    return run_boot(args)


@command("halt")
def _halt(args: argparse.Namespace) -> int:
    from xenctl.cli.autostart import run_halt

    return run_halt(args)


@command("watch")
def _watch(args: argparse.Namespace) -> int:
    from xenctl.cli.autostart import run_watch

    return run_watch(args)


@command("autostart list")
def _autostart_list(args: argparse.Namespace) -> int:
    from xenctl.cli.autostart import run_list

    return run_list(args)


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from xenctl.cli.serve import run_serve

    return run_serve(args)


@command("xend")
def _xend(args: argparse.Namespace) -> int:
    from xenctl.cli.xend import run_xend

    return run_xend(args)


@command("evacuate")
def _evacuate(args: argparse.Namespace) -> int:
    from xenctl.cli.fleet import run_evacuate

    return run_evacuate(args)
