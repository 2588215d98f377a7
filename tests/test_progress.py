"""Progress shows counts on a terminal and nothing when piped or in CI."""
import io

from gongkai.progress import Progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_counts_on_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    out = Tty()
    with Progress("渲染", 3, stream=out) as progress:
        for _ in range(3):
            progress.advance()
    assert "3/3" in out.getvalue() and out.getvalue().endswith("\n")


def test_progress_is_quiet_when_piped_or_in_ci(monkeypatch):
    piped = io.StringIO()
    with Progress("x", 5, stream=piped) as progress:
        progress.advance(5)
    assert piped.getvalue() == ""
    monkeypatch.setenv("CI", "true")
    tty = Tty()
    with Progress("x", 5, stream=tty) as progress:
        progress.advance(5)
    assert tty.getvalue() == ""
