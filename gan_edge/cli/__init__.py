"""The ``gan-edge`` command line: ``main.py`` dispatches, one module per subcommand."""
