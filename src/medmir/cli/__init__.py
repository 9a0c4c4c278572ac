"""The `medmir` command line: the parser, one module per subcommand, and the console it prints to."""
