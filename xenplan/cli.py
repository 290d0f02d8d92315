"""The command line: parse options, call the core, render, pick the exit status.

Exit status: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 bad input or usage (one line, no traceback); 3 internal error.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from xenplan import __version__
from xenplan.errors import InputError, UsageError

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}

EXAMPLES = """
\b
Examples:
  xenplan check board.dts
  xenplan check board.dtb --xen-version 4.18 --format json
  xenplan check base.dtb --overlay domains.dtbo --xen-image 0x40200000:0x154000 --fdt-address 0x48000000
  xenplan check my-chosen.dts --board qemu-virt --xen-version 4.20
  xenplan check board.dts --partial-dtb domU1=gem3.dtb --kernel-image domU1=Image
  xenplan map board.dts --domain domU1 --format svg -o map.svg
  xenplan rules
  xenplan rule SMEM-013
"""


def target_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every simulating command shares (defined once)."""
    from xenplan.targets import kconfig_keys

    opts = [
        click.argument("inputs", nargs=-1, required=True, type=click.Path(allow_dash=True)),
        click.option("--overlay", "overlays", multiple=True, type=click.Path(),
                     help="apply a DT overlay (.dtbo/.dtso) on the input"),
        click.option("--board", help="merge the input onto a board: qemu-virt, zcu102 or a board tree's path "
                     "(for /chosen fragments); a named board also places Xen and the DTB"),
        click.option("-I", "--include", "include_dirs", multiple=True, type=click.Path(),
                     help="include directory for DTS"),
        click.option("--xen-version", default="4.22", show_default=True,
                     help="4.16 … 4.22, a released X.Y.Z or 4.23-dev; check: several (4.18,4.22) or all"),
        click.option("--arch", type=click.Choice(["arm64", "arm32"]), default="arm64", show_default=True),
        click.option("--kconfig", multiple=True, metavar="K=y,K=n",
                     help=f"Kconfig options xenplan models: {', '.join(kconfig_keys())}"),
        click.option("--kconfig-file", type=click.Path(), metavar="PATH",
                     help="Xen's .config; --kconfig entries override it"),
        click.option("--xen-image", help="START:SIZE of Xen's image in RAM (below 2^48, arm32 2^40)"),
        click.option("--fdt-address", help="START[:SIZE] of the DTB Xen receives"),
        click.option("--pa-bits", type=int, help="physical address bits of the CPU (32 to 52)"),
        click.option("--kernel-image", "kernel_images", multiple=True, metavar="NODE=FILE",
                     help="the kernel a domain (name) or module (path) loads, to read its header"),
        click.option("--partial-dtb", "partial_dtbs", multiple=True, metavar="NODE=FILE",
                     help="the passthrough device tree a domain (name) or module (path) loads"),
        click.option("--gic-spis", type=int, default=224, show_default=True, help="SPIs of the host GIC (0 to 988)"),
        click.option("--debug", is_flag=True, help="show tracebacks of internal errors"),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def _target(xen_version: str, arch: str, kconfig: Sequence[str], xen_image: str | None, fdt_address: str | None,
            pa_bits: int | None, gic_spis: int, board: str | None, kernel_images: Sequence[str],
            kconfig_file: str | None) -> Any:
    from xenplan.targets import build_target

    return build_target(xen_version=xen_version, arch=arch, kconfig=kconfig, xen_image=xen_image,
                        fdt_address=fdt_address, pa_bits=pa_bits, gic_spis=gic_spis, board=board,
                        kernel_images=kernel_images, kconfig_file=kconfig_file)


def _run(debug: bool, body: Callable[[], int]) -> None:
    """The one place errors become exit statuses.

    The cyclic garbage collector is off for the run: every object the
    analysis makes lives until the process exits, so its passes only walk a
    growing heap (a fifth of the time at 4,096 domains, for 9 MiB more)."""
    gc.disable()
    try:
        code = body()
    except InputError as exc:
        click.echo(f"xenplan: error: {exc}", err=True)
        sys.exit(2)
    except UsageError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.option) from exc
    except click.ClickException:
        raise
    except Exception as exc:  # our bug, never the user's
        if debug:
            raise
        click.echo(f"xenplan: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   "(run with --debug for the traceback)", err=True)
        sys.exit(3)
    sys.exit(code)


class _Group(click.Group):
    """Usage errors on one line (``xenplan: error: …``, exit 2), like every other bad input."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            cmd = exc.ctx.command_path if exc.ctx is not None else "xenplan"
            click.echo(f"xenplan: error: {exc.format_message()} (see '{cmd} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"xenplan: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("xenplan: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Group, epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xenplan")
def main() -> None:
    """Check and plan Xen dom0less device trees before the board boots them."""


def _analyse_inputs(inputs: Sequence[str], overlays: Sequence[str], board: str | None,
                    include_dirs: Sequence[str], xen_version: str, arch: str, kconfig: Sequence[str],
                    kconfig_file: str | None, xen_image: str | None, fdt_address: str | None, pa_bits: int | None,
                    kernel_images: Sequence[str], partial_dtbs: Sequence[str], gic_spis: int,
                    output: str | None) -> tuple[list[Any], list[str]]:
    """The target options into a target per release, every input analysed against each (input by
    input, oldest release first), and the files the run read so far (``-o`` may name none of them);
    ``-o`` is checked before any analysis runs."""
    from xenplan.analysis import analyse
    from xenplan.targets import board_path, node_files, parse_versions

    targets = [_target(v, arch, kconfig, xen_image, fdt_address, pa_bits, gic_spis, board, kernel_images,
                       kconfig_file) for v in parse_versions(xen_version)]
    board_file = board_path(board)
    partials = node_files(partial_dtbs, "--partial-dtb")
    read = _files_read(output, inputs, overlays, board_file, partials, kernel_images, kconfig_file)
    return [analyse(p, t, overlays, include_dirs, board_file, partials) for p in inputs for t in targets], read


@main.command(epilog=EXAMPLES)
@target_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github", "junit"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(), help="a file for the report (never one of the inputs); - is stdout")
@click.option("--select", multiple=True, help="only these rules (IDs, prefixes such as SMEM, or slugs)")
@click.option("--ignore", multiple=True, help="drop these rules (IDs, prefixes or slugs)")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True)
@click.option("--show-explanations", "explain", is_flag=True,
              help="under each finding: the rest of its message, Xen's message and why it matters")
@click.option("--statistics", is_flag=True, help="after the findings, their counts by rule (text and github)")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="auto: colour on a terminal, unless NO_COLOR is set")
def check(inputs: tuple[str, ...], overlays: tuple[str, ...], board: str | None, include_dirs: tuple[str, ...],
          xen_version: str,
          arch: str, kconfig: tuple[str, ...], kconfig_file: str | None, xen_image: str | None,
          fdt_address: str | None, pa_bits: int | None, kernel_images: tuple[str, ...],
          partial_dtbs: tuple[str, ...], gic_spis: int,
          debug: bool, fmt: str,
          output: str | None, select: tuple[str, ...], ignore: tuple[str, ...], fail_on: str, explain: bool,
          statistics: bool, color: str) -> None:
    """Simulate Xen booting INPUT (DTB or DTS) and report what would fail."""
    output = None if output == "-" else output

    def body() -> int:
        from xenplan.checks.select import filter_findings
        from xenplan.report import render

        if statistics and fmt not in ("text", "github"):
            raise click.BadParameter(f"counts by rule go with text or github output, not {fmt}",
                                     param_hint="--statistics")
        analyses, read = _analyse_inputs(inputs, overlays, board, include_dirs, xen_version, arch, kconfig,
                                         kconfig_file, xen_image, fdt_address, pa_bits, kernel_images, partial_dtbs,
                                         gic_spis, output)
        for a in analyses:
            a.findings = filter_findings(a.findings, select, ignore)
        _emit(render.check(fmt, analyses, _console(output, color), explain=explain, statistics=statistics), output,
              [*read, *(f for a in analyses for f in a.files)])
        worst = max((SEVERITY_RANK[f.severity] for a in analyses for f in a.findings), default=-1)
        return 1 if worst >= SEVERITY_RANK[fail_on] else 0

    _run(debug, body)


@main.command("map", epilog=EXAMPLES)
@target_options
@click.option("--domain", help="only this domain's guest map")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "svg", "html"]), default="text",
              show_default=True, help="svg: a to-scale picture; html: the picture in a self-contained page")
@click.option("-o", "--output", type=click.Path(), help="a file for the map (never one of the inputs); - is stdout")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="auto: colour on a terminal, unless NO_COLOR is set")
def map_cmd(inputs: tuple[str, ...], overlays: tuple[str, ...], board: str | None, include_dirs: tuple[str, ...],
            xen_version: str,
            arch: str, kconfig: tuple[str, ...], kconfig_file: str | None, xen_image: str | None,
            fdt_address: str | None, pa_bits: int | None, kernel_images: tuple[str, ...],
            partial_dtbs: tuple[str, ...], gic_spis: int,
            debug: bool, domain: str | None,
            fmt: str, output: str | None, color: str) -> None:
    """Show the host physical map and every domain's guest physical map."""
    output = None if output == "-" else output

    def body() -> int:
        from xenplan.report import render
        from xenplan.targets import parse_versions

        if len(parse_versions(xen_version)) > 1:
            raise click.BadParameter("a map shows one release", param_hint="--xen-version")
        analyses, read = _analyse_inputs(inputs, overlays, board, include_dirs, xen_version, arch, kconfig,
                                         kconfig_file, xen_image, fdt_address, pa_bits, kernel_images, partial_dtbs,
                                         gic_spis, output)
        if domain is not None:
            names = {d.name for a in analyses for d in a.result.domains}
            if domain not in names:
                raise click.BadParameter(f"no domain named {domain!r} (have: {', '.join(sorted(names))})",
                                         param_hint="--domain")
        _emit(render.memory_map(fmt, analyses, _console(output, color), domain), output,
              [*read, *(f for a in analyses for f in a.files)])
        return 0

    _run(debug, body)


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules_cmd(fmt: str) -> None:
    """List every rule: ID, slug, severity, the release that introduced it."""
    from xenplan.report import render

    _emit(render.rules(fmt, _console(None)), None)


@main.command("rule")
@click.argument("rule_id")
def rule_cmd(rule_id: str) -> None:
    """Explain one rule: what Xen does, why it matters, an example and the fix."""
    from xenplan.checks import lookup
    from xenplan.report import render

    r = lookup(rule_id)
    if r is None:
        click.echo(f"xenplan: error: no rule {rule_id!r} (see `xenplan rules`)", err=True)
        sys.exit(2)
    _emit(render.rule(r, _console(None)), None)


def _console(output: str | None, color: str = "auto") -> Any:
    from xenplan.report.render import console

    return console(output, color)


def _files_read(output: str | None, inputs: Sequence[str], overlays: Sequence[str], board: str | None,
                partials: dict[str, str], kernel_images: Sequence[str], kconfig_file: str | None) -> list[str]:
    """The files a run reads; before any work, ``-o`` naming one of them (or no writable place) is refused."""
    from xenplan.files import check_output
    from xenplan.targets import node_files

    files = [*inputs, *overlays, *([board] if board else []), *partials.values(),
             *node_files(kernel_images, "--kernel-image").values(), *([kconfig_file] if kconfig_file else [])]
    if output is not None:
        check_output(output, files)
    return files


def _emit(text: str | None, output: str | None, inputs: Sequence[str] = ()) -> None:
    """Print ``text``, or write it to ``output`` through ``xenplan.files.write_output`` (atomic, never an input)."""
    if text is None:
        return
    if output is not None:
        from xenplan.files import write_output

        write_output(output, text, inputs)
    else:
        click.echo(text, nl=False, color=True)  # the renderers decided about colour (--color)
