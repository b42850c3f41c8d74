"""What every command shares: library errors as usage errors naming the flags,
Ctrl-C as one line and status 130, a full disk as one line and status 74, Keras
started only once the input is good."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from gan_cookbook import launch, recipes
from gan_cookbook.files import EXIT_DISK_FULL, DiskFullError

if TYPE_CHECKING:
    from gan_cookbook.recipe import Recipe


def flags_of(command: click.Command) -> dict[str, str]:
    """The command's options by Python argument: ``{"batch_size": "--batch-size"}``."""
    return {
        param.name: max(param.opts, key=len)
        for param in command.params
        if isinstance(param, click.Option) and param.name
    }


def name_flags(message: str, flags: dict[str, str]) -> str:
    """A library message with its Python arguments written as the flags that set them.

    The library names arguments Keras style: ```out``` in the text, ``out=value``
    after "Received:". ``resume=True`` becomes ``--resume``, ``out=None`` ``no --out``
    and ``batch_size=64`` ``--batch-size 64``.
    """
    for name, flag in flags.items():
        message = re.sub(rf"`{name}=True`", flag, message)
        message = re.sub(rf"`{name}`", flag, message)
        message = re.sub(rf"(?<![\w.-]){name}=None\b", f"no {flag}", message)
        message = re.sub(rf"(?<![\w.-]){name}=True\b", flag, message)
        message = re.sub(rf"(?<![\w.-]){name}='([^']*)'", rf"{flag} \1", message)
        message = re.sub(rf"(?<![\w.-]){name}=", f"{flag} ", message)
    return message


def usage_error(
    error: ValueError, also: Sequence[click.Command] = ()
) -> click.UsageError:
    """A library ``ValueError`` as a usage error that names the command's flags (and
    those of the commands in ``also``, whose options the command passes on)."""
    context = click.get_current_context(silent=True)
    message = str(error)
    if context is not None:
        flags: dict[str, str] = {}
        for command in (*also, context.command):
            flags.update(flags_of(command))
        message = name_flags(message, flags)
    return click.UsageError(message)


def start_keras() -> None:
    """Starts Keras for a command; a missing backend is a one-line error."""
    try:
        launch.start_keras()
    except ImportError as error:
        raise click.ClickException(str(error)) from None


def resolve_recipe(name_or_path: str) -> Recipe:
    """A built-in recipe by name, or the recipe in a ``.py`` file; Keras starts
    (quietly) once the name is known to be good."""
    if not recipes.is_file_name(name_or_path):
        recipes.check_name(name_or_path)
    start_keras()
    return recipes.resolve(name_or_path)


INTERRUPTED = "gan_cookbook.interrupted"
"""The ``ctx.meta`` key of what an interrupted command says it kept."""


class Interruptible(click.Command):
    """A command that Ctrl-C ends with status 130 and one line, at any moment, and
    whose stderr is without TensorFlow's lines about the machine
    (:func:`~gan_cookbook.launch.backend_noise_filtered`).

    Click would print "Aborted!" and exit with 1, or a traceback come from the
    middle of an import. A command that has something to keep says what in
    ``ctx.meta[INTERRUPTED]``, a function that returns the line.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:
            click.echo(f"\n{launch.NOTHING_WRITTEN}", err=True)
            sys.exit(130)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with launch.backend_noise_filtered():
                return super().invoke(ctx)
        except KeyboardInterrupt:
            # A write cut short leaves its half-made objects (a zip file, say) to be
            # collected; their complaints would be tracebacks after the one line.
            sys.unraisablehook = _ignore_unraisable
            explain = ctx.meta.get(INTERRUPTED, lambda: launch.NOTHING_WRITTEN)
            click.echo(f"\n{explain()}", err=True)
            sys.exit(130)
        except DiskFullError as error:
            # What the command wrote before is whole; the file it was writing is
            # not there at all.
            click.echo(f"{error}. Free some space and run it again.", err=True)
            sys.exit(EXIT_DISK_FULL)


def _ignore_unraisable(unraisable: Any) -> None:
    """Says nothing of an error raised where it cannot propagate (a destructor)."""


class InterruptibleGroup(Interruptible, click.Group):
    """The ``gan-cookbook`` group: every subcommand is :class:`Interruptible`."""

    command_class = Interruptible


def repeat_command(context: click.Context, arguments: Sequence[str]) -> str:
    """The command line of ``context`` again: its ``arguments`` and every option
    given on the command line (or by its environment variable)."""
    words = ["gan-cookbook", context.info_name or "", *arguments]
    for param in context.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        source = context.get_parameter_source(param.name)
        if source not in (
            click.core.ParameterSource.COMMANDLINE,
            click.core.ParameterSource.ENVIRONMENT,
        ):
            continue
        value = context.params[param.name]
        if param.is_flag and param.secondary_opts:
            words.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            if value:
                words.append(param.opts[0])
        else:
            words += [max(param.opts, key=len), str(value)]
    return shlex.join(words)
