"""One module per CLI subcommand: argument parsing and the call into the library."""
