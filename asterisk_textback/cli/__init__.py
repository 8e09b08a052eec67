"""The ``asterisk-textback`` command line: one module per command.

``main.py`` builds the parser from each command module's ``add_parser()`` and dispatches;
``replay``, ``run``, ``demo``, ``db``, ``check``, ``send_test``, ``optout``, ``report``,
``web`` and ``templates`` are the commands, each importing what it needs only when it runs.
The rest serve them: ``args`` (shared arguments), ``checks``, ``check_classes`` and
``check_report`` (what ``check`` verifies), ``dryrun`` and ``output`` (``replay``'s printing).
"""
