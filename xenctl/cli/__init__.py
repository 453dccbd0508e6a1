"""The command line: argument parsing, output formats and exit codes; nothing else."""
