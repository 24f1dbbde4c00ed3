"""One module per ``ninjagrad`` subcommand; see ``ninjagrad.cli`` for the protocol."""
