"""`python -m receiver`: the `budai-receiver` command, through the console script's entry point,
so a missing `receiver` extra is one line naming it (exit 2), not a traceback."""

from budai_async._entry import budai_receiver

if __name__ == "__main__":
    budai_receiver()
