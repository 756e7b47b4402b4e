from mamori.cli.main import entry

entry()
