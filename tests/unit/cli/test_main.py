from mamori import __version__
from mamori.cli.main import run


def test_version(capsys):
    assert run(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys):
    assert run(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_help_exits_zero(capsys):
    assert run(["--help"]) == 0
    assert "mamori" in capsys.readouterr().out
