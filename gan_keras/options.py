"""Command-line options declared once, on a dataclass's fields, as `transformers`' HfArgumentParser does:
the flag, the help and the choices sit beside the field's default, and `add_options` turns every field
into one argparse argument. The help ends with the default, so no help text repeats it.

Example:
    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Sample:
    ...     n: int = option(64, "number of images")
    ...     loss: str = option("hinge", "the GAN loss", choices="loss")
    >>> parser = argparse.ArgumentParser()
    >>> add_options(parser, Sample)
    >>> parser.parse_args(["--n", "9"])
    Namespace(n=9, loss='hinge')
"""

import argparse
import dataclasses
import types
import typing

from gan_keras import registry

OPTION = "option"  # the metadata key of a field's command-line declaration


def option(default=None, help="", *, choices=None, flag=None, positional=False, default_help=None, negatable=False,
           const=None, nargs=None, metavar=None, required=False, cli=True, metadata=None):
    """A dataclass field that is also a command-line option.

    Args:
        default: the field's default (shown at the end of the help unless `default_help` says it).
        help: what the option does.
        choices: a registry kind ("loss": its names) or a tuple of names, checked by argparse.
        flag: the option's spelling, default `--field-name`; `positional`: an argument without a flag.
        default_help: how the help states the default, where it is chosen at run time (None: the value).
        negatable: a boolean with --x / --no-x (unset: None); other booleans are switches (--x).
        const: the value of a flag given without one (`nargs="?"`); `nargs`: "+" for one or more values.
        cli: False keeps the field off the command line.
        metadata: more metadata of the field (e.g. what a checkpoint fixes).
    """
    declared = dict(help=help, choices=choices, flag=flag, positional=positional, default_help=default_help,
                    negatable=negatable, const=const, nargs=nargs, metavar=metavar, required=required, cli=cli)
    return dataclasses.field(default=default, metadata={**(metadata or {}), OPTION: declared})


def _base_type(annotation):
    """int for `int | None`, str for `str`, ..."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def _choices(spec):
    if spec is None:
        return None
    if isinstance(spec, str):
        return list(registry.names(spec))
    return list(spec)


def _help(field, declared):
    text = declared["help"]
    shown = declared["default_help"]
    if shown is None and field.default not in (None, False) and not (declared["required"] or declared["positional"]):
        shown = f"{field.default:g}" if isinstance(field.default, float) else str(field.default)
    text = f"{text} (default: {shown})" if shown else text
    return text.replace("%", "%%")  # argparse formats help with %


def add_options(parser, cls, unset=False, only=None):
    """Add an argument to `parser` for every option field of the dataclass `cls` (those in `only`, if given).

    With `unset`, an option not given parses as None, so that the caller can tell "not given" from the
    default (a resumed run keeps its saved settings).
    """
    for field in dataclasses.fields(cls):
        declared = field.metadata.get(OPTION)
        if declared is None or not declared["cli"] or (only is not None and field.name not in only):
            continue
        kind = _base_type(field.type)
        kind = str if kind is list or typing.get_origin(kind) is list else kind  # nargs="+": strings
        kwargs = {"help": _help(field, declared)}
        default = None if unset else field.default
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if declared["negatable"] else "store_true"
            kwargs["default"] = None if unset or declared["negatable"] else field.default
        else:
            kwargs.update(type=kind, default=default, choices=_choices(declared["choices"]))
            if declared["const"] is not None:
                kwargs.update(nargs="?", const=declared["const"])
            elif declared["nargs"]:
                kwargs["nargs"] = declared["nargs"]
        if declared["metavar"]:
            kwargs["metavar"] = declared["metavar"]
        if declared["positional"]:
            kwargs.pop("default")
            parser.add_argument(field.name, **kwargs)
            continue
        if declared["required"]:
            kwargs["required"] = True
        parser.add_argument(declared["flag"] or "--" + field.name.replace("_", "-"), dest=field.name, **kwargs)
