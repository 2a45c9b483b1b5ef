"""``python -m credits_tui.cli``: the same as the ``credits-tui`` command."""

from credits_tui.cli import main

if __name__ == "__main__":
    main(prog_name="credits-tui")
