"""Entry point for `python -m rnnlab`."""

import sys


def _start_worker_early(argv: list[str]) -> None:
    """For `train`, start the worker process before this one imports torch and pandas.

    A worker spends seconds importing torch before it can train; started here, that import runs
    on another core while the CLI imports its own modules and reads its arguments, instead of
    after them. The run then takes this warm worker (a bad flag just closes it at exit).
    """
    if argv[:1] == ["train"] and not {"-h", "--help"} & set(argv):
        from rnnlab.engines.local import default_engine

        default_engine().warm_up(1)


_start_worker_early(sys.argv[1:])

from rnnlab.cli import main  # noqa: E402

sys.exit(main())
