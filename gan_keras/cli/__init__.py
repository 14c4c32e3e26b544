"""Command line: `python -m gan_keras train|sample|evaluate|project|directions|edit|video|export|bench|download`.

Bad input prints one line, `error: ...`, on stderr and exits with code 2. Every option is declared
once, on a dataclass field (`gan_keras.cli.commands`, `RunConfig`), and every list of choices comes
from `gan_keras.registry`, read without importing TensorFlow.
"""

import argparse
import sys
import warnings

from gan_keras.errors import UsageError
from gan_keras.options import add_options
from gan_keras.quiet_tensorflow import quiet_tensorflow


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see: {self.prog} --help)")


def build_parser():
    """The whole command line, one sub-parser per command of `commands.COMMANDS`."""
    from gan_keras.cli.commands import COMMANDS

    parser = _Parser(prog="python -m gan_keras", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        for i, options in enumerate(command.options):
            last = i == len(command.options) - 1
            add_options(p, options, unset=command.unset, only=command.only if last else None)
    return parser


def _join_negative_lists(argv):
    """`--amounts -3,-1,0,1,3` as `--amounts=-3,...`: argparse would take "-3,-1,..." for an option."""
    joined, i = [], 0
    while i < len(argv):
        if argv[i] == "--amounts" and i + 1 < len(argv):
            joined.append(f"--amounts={argv[i + 1]}")
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    return joined


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=file or sys.stderr, flush=True)


def main(argv=None):
    from gan_keras.cli.commands import COMMANDS

    quiet_tensorflow()
    warnings.showwarning = _one_line_warning  # a damaged file, skipped images: one line each, no source echo
    argv = _join_negative_lists(sys.argv[1:] if argv is None else list(argv))
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command].run(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a full disk, a read-only folder
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
