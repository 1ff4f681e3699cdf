"""`python -m budai_server`: the `budai-server` command, through the console script's entry point,
so a missing `server` extra is one line naming it (exit 2), not a traceback."""

from budai_async._entry import budai_server

if __name__ == "__main__":
    budai_server()
