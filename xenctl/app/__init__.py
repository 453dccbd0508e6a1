"""The application layer: what xenctl does to a host, as functions over a ``Host`` handle.

The command line, a web page and a loop over many hosts call the same functions: ``plans``
(plan, graph), ``apply`` (apply specs or a saved plan, under the host's lock), ``runlevels``
(boot, halt, runlevel), ``watch`` and ``actions`` (xm's commands). Each takes typed options
(``options``), returns values and reports progress through hooks; none of them prints.
"""
