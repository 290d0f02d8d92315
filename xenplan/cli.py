"""The command line: parse options, call the core, render, pick the exit status.

Exit status: 0 nothing at or above ``--fail-on``; 1 findings at or above it;
2 bad input or usage (one line, no traceback); 3 internal error. ``--exit-zero``
turns 1 into 0. Each input's settings come from ``xenplan.config``: options
given here, then its configuration file's per-file and top-level settings.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable, Iterable, Sequence
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
  xenplan check --imagebuilder config --assume-size 'DOMU_KERNEL[0]=20M'
  xenplan check virt.dtb --uboot-script boot.source
  xenplan map board.dts --domain domU1 --format svg -o map.svg
  xenplan simulate board.dts --op "domU1 balloon-out 16M" --op "domU1 destroy" --xen-version 4.16
  xenplan rules
  xenplan rule SMEM-013
"""


_PATH, _INPUT_PATH = click.Path(), click.Path(allow_dash=True)
"""One instance of each, shared by every command's options: each ``click.Path()`` looks its name up
in gettext's catalogues, a search of the file system that cost the options of every command ~2 ms."""


def target_options(fn: Callable[..., Any], inputs_required: bool = True) -> Callable[..., Any]:
    """Options every simulating command shares (defined once)."""
    from xenplan.targets import kconfig_keys

    opts = [
        click.argument("inputs", nargs=-1, required=inputs_required, type=_INPUT_PATH),
        click.option("--overlay", "overlays", multiple=True, type=_PATH,
                     help="apply a DT overlay (.dtbo/.dtso) on the input"),
        click.option("--board", help="merge the input onto a board: qemu-virt, zcu102 or a board tree's path "
                     "(for /chosen fragments); a named board also places Xen and the DTB"),
        click.option("-I", "--include", "include_dirs", multiple=True, type=_PATH,
                     help="include directory for DTS"),
        click.option("--xen-version", default="4.22", show_default=True,
                     help="4.16 … 4.22, a released X.Y.Z or 4.23-dev; check: several (4.18,4.22) or all"),
        click.option("--arch", type=click.Choice(["arm64", "arm32"]), default="arm64", show_default=True),
        click.option("--kconfig", multiple=True, metavar="K=y,K=n",
                     help=f"Kconfig options xenplan models: {', '.join(kconfig_keys())}"),
        click.option("--kconfig-file", type=_PATH, metavar="PATH",
                     help="Xen's .config; --kconfig entries override it"),
        click.option("--xen-image", help="START:SIZE of Xen's image in RAM (below 2^48, arm32 2^40)"),
        click.option("--fdt-address", help="START[:SIZE] of the DTB Xen receives; SIZE is the blob as the loader "
                     "hands it over (QEMU and U-Boot re-pack or pad it), not the file dtc wrote"),
        click.option("--pa-bits", type=int, help="physical address bits of the CPU (32 to 52)"),
        click.option("--kernel-image", "kernel_images", multiple=True, metavar="NODE=FILE",
                     help="the kernel a domain (name) or module (path) loads, to read its header"),
        click.option("--partial-dtb", "partial_dtbs", multiple=True, metavar="NODE=FILE",
                     help="the passthrough device tree a domain (name) or module (path) loads"),
        click.option("--gic-spis", type=int, default=224, show_default=True, help="SPIs of the host GIC (0 to 988)"),
        click.option("--config", "config_file", type=_PATH, metavar="FILE",
                     help="configuration file for every input (default: the nearest xenplan.toml or "
                     "pyproject.toml with [tool.xenplan] above each input)"),
        click.option("--no-config", is_flag=True, help="read no configuration file"),
        click.option("--debug", is_flag=True, help="show tracebacks of internal errors"),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def ib_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """ImageBuilder configs and U-Boot scripts as the input (``xenplan.ibrun``)."""
    opts = [
        click.option("--imagebuilder", metavar="CONFIG", help="an ImageBuilder config (read, never run): check "
                     "the tree its U-Boot script builds; INPUT, if given, replaces DEVICE_TREE"),
        click.option("--uboot-script", metavar="SCRIPT", help="replay a U-Boot script (boot.source or boot.scr) "
                     "onto INPUT, the board's DTB it loads"),
        click.option("--imagebuilder-dir", metavar="DIR", help="where the config's or script's files are "
                     "(default: its folder)"),
        click.option("--assume-size", "assume_sizes", multiple=True, metavar="VAR=SIZE",
                     help="the size of a missing file (config variable or script file name)"),
        click.option("--imagebuilder-dialect", type=click.Choice(["xilinx", "upstream"]),
                     help="whose uboot-script-gen to model (default: Xilinx's release script, upstream's for keys "
                     "only upstream knows)"),
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


def _analyse_inputs(output: str | None) -> tuple[list[Any], list[Any], list[str]]:
    """Every input analysed with its own settings (``xenplan.config``: command line, per-file settings,
    configuration, defaults), the settings, and the files the run read so far (``-o`` may name none of
    them); ``-o`` is checked before any analysis runs."""
    from xenplan.analysis import analyse
    from xenplan.config import config_files
    from xenplan.targets import board_path, node_files, parse_versions

    p = click.get_current_context().params
    if p.get("imagebuilder") is not None or p.get("uboot_script") is not None:
        return _analyse_ib(output)
    if not p["inputs"]:
        raise UsageError("INPUT", "missing: give a device tree, or --imagebuilder CONFIG / --uboot-script SCRIPT")
    settings = _settings()
    targets: dict[tuple[Any, ...], Any] = {}
    runs: list[tuple[Any, tuple[Any, ...]]] = []
    for s in settings:
        try:
            for v in parse_versions(s["xen_version"] or "4.22"):
                key = (*s.target_key(), v)
                if key not in targets:
                    targets[key] = _target(v, s["arch"], s["kconfig"], s["xen_image"], s["fdt_address"],
                                           s["pa_bits"], s["gic_spis"], s["board"], p["kernel_images"],
                                           s["kconfig_file"])
                runs.append((s, key))
        except UsageError as exc:
            raise s.blame(exc) from exc
    partials = node_files(p["partial_dtbs"], "--partial-dtb")
    read = _files_read(output, p["inputs"], p["overlays"], [board_path(s["board"]) for s in settings], partials,
                       p["kernel_images"], [s["kconfig_file"] for s in settings], config_files(settings))
    analyses = [analyse(s.input, targets[key], p["overlays"], s["include_dirs"], board_path(s["board"]),
                        partials, s.node_ignores(), (s["select"] or (), s["ignore"] or ()) if "select" in p else None)
                for s, key in runs]
    return analyses, [s for s, _ in runs], read


def _analyse_ib(output: str | None) -> tuple[list[Any], list[Any], list[str]]:
    """``_analyse_inputs`` for an ImageBuilder config or a U-Boot script: the configuration found
    from the config's (or script's) folder applies; the placement the script gives Xen and the DTB
    applies where ``--xen-image``/``--fdt-address`` do not."""
    from xenplan.config import config_files
    from xenplan.ibrun import analyse_ib
    from xenplan.targets import node_files

    p = click.get_current_context().params
    if p["imagebuilder"] is not None and p["uboot_script"] is not None:
        raise UsageError("--uboot-script", "give --imagebuilder or --uboot-script, not both")
    source = p["imagebuilder"] or p["uboot_script"]
    settings = _settings([source])
    s = settings[0]
    read = _files_read(output, [*p["inputs"], source], p["overlays"], [], {}, p["kernel_images"],
                       [s["kconfig_file"]], config_files(settings))

    def make_target(xen_image: str | None, fdt_address: str | None, kernels: Sequence[str]) -> Any:
        try:
            return _target(s["xen_version"], s["arch"], s["kconfig"], s["xen_image"] or xen_image,
                           s["fdt_address"] or fdt_address, s["pa_bits"], s["gic_spis"], s["board"],
                           [*p["kernel_images"], *kernels], s["kconfig_file"])
        except UsageError as exc:
            raise s.blame(exc) from exc

    analysis = analyse_ib(p["imagebuilder"], p["uboot_script"], p["inputs"], p["imagebuilder_dir"],
                          p["assume_sizes"], make_target, node_files(p["partial_dtbs"], "--partial-dtb"),
                          p["imagebuilder_dialect"])
    return [analysis], settings, read


def _settings(inputs: Sequence[str] | None = None, above_config: dict[str, Any] | None = None) -> list[Any]:
    """The settings in force for each input (``inputs``, default the command's INPUTs); an option is the
    command line's only when given there (a click default does not override a configuration).
    ``above_config`` (a simulation scenario's settings) fills what the command line left at its default."""
    from click.core import ParameterSource

    from xenplan.config import settings_for

    ctx = click.get_current_context()
    params = dict(ctx.params)
    explicit = {n for n in ctx.params if ctx.get_parameter_source(n) not in (
        ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)}
    for name, value in (above_config or {}).items():
        if name not in explicit:
            params[name] = value
            explicit.add(name)
    return [settings_for(i, params, explicit, params["config_file"], params["no_config"])
            for i in inputs or params["inputs"] or (".",)]


def _targets(settings: Sequence[Any]) -> dict[tuple[Any, ...], Any]:
    """One target per distinct set of target settings; a refused value is blamed on where it came from."""
    p = click.get_current_context().params
    targets: dict[tuple[Any, ...], Any] = {}
    for s in settings:
        if s.target_key() not in targets:
            try:
                targets[s.target_key()] = _target(s["xen_version"], s["arch"], s["kconfig"], s["xen_image"],
                                                  s["fdt_address"], s["pa_bits"], s["gic_spis"], s["board"],
                                                  p["kernel_images"], s["kconfig_file"])
            except UsageError as exc:
                raise s.blame(exc) from exc
    return targets


@main.command(epilog=EXAMPLES)
@functools.partial(target_options, inputs_required=False)
@ib_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github", "junit"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=_PATH, help="a file for the report (never one of the inputs); - is stdout")
@click.option("--select", multiple=True, help="only these rules (IDs, prefixes such as SMEM, or slugs)")
@click.option("--ignore", multiple=True, help="drop these rules (IDs, prefixes or slugs)")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True)
@click.option("--exit-zero", is_flag=True, help="exit 0 even with findings (2 and 3 still mean bad input and "
              "internal error)")
@click.option("--baseline", type=_PATH, metavar="FILE", help="report only findings not in this baseline")
@click.option("--write-baseline", type=_PATH, metavar="FILE",
              help="record today's findings in FILE as the baseline (then none of them is new)")
@click.option("--show-explanations", "explain", is_flag=True,
              help="under each finding: the rest of its message, Xen's message and why it matters")
@click.option("--statistics", is_flag=True, help="after the findings, their counts by rule (text and github)")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="auto: colour on a terminal, unless NO_COLOR is set")
def check(inputs: tuple[str, ...], overlays: tuple[str, ...], board: str | None, include_dirs: tuple[str, ...],
          xen_version: str,
          arch: str, kconfig: tuple[str, ...], kconfig_file: str | None, xen_image: str | None,
          fdt_address: str | None, pa_bits: int | None, kernel_images: tuple[str, ...],
          partial_dtbs: tuple[str, ...], gic_spis: int, config_file: str | None, no_config: bool,
          imagebuilder: str | None, uboot_script: str | None, imagebuilder_dir: str | None,
          assume_sizes: tuple[str, ...], imagebuilder_dialect: str | None, debug: bool, fmt: str,
          output: str | None, select: tuple[str, ...], ignore: tuple[str, ...], fail_on: str,
          exit_zero: bool, baseline: str | None, write_baseline: str | None, explain: bool,
          statistics: bool, color: str) -> None:
    """Simulate Xen booting INPUT (DTB or DTS) and report what would fail."""
    output = None if output == "-" else output

    def body() -> int:
        from xenplan import baseline as baselines
        from xenplan.checks.select import filter_findings
        from xenplan.report import render

        if statistics and fmt not in ("text", "github"):
            raise click.BadParameter(f"counts by rule go with text or github output, not {fmt}",
                                     param_hint="--statistics")
        analyses, settings, read = _analyse_inputs(output)
        for a, s in zip(analyses, settings, strict=True):
            a.findings = filter_findings(a.findings, s["select"] or (), s["ignore"] or ())
        files = [*read, *(f for a in analyses for f in a.files)]
        if write_baseline is not None:
            count = baselines.write(write_baseline, analyses, [*files, *([output] if output else [])])
            click.echo(f"xenplan: recorded {count} finding(s) in {write_baseline}", err=True)
        for path in filter(None, (write_baseline, baseline)):
            baselines.apply(path, analyses)
        _emit(render.check_parts(fmt, analyses, _console(output, color), explain=explain, statistics=statistics),
              output, [*files, *filter(None, (baseline, write_baseline))])
        failed = any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[s["fail_on"] or "error"]
                     for a, s in zip(analyses, settings, strict=True) for f in a.findings)
        return 1 if failed and not exit_zero else 0

    _run(debug, body)


@main.command("map", epilog=EXAMPLES)
@functools.partial(target_options, inputs_required=False)
@ib_options
@click.option("--domain", help="only this domain's guest map")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "svg", "html"]), default="text",
              show_default=True, help="svg: a to-scale picture; html: the picture in a self-contained page")
@click.option("-o", "--output", type=_PATH, help="a file for the map (never one of the inputs); - is stdout")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="auto: colour on a terminal, unless NO_COLOR is set")
def map_cmd(inputs: tuple[str, ...], overlays: tuple[str, ...], board: str | None, include_dirs: tuple[str, ...],
            xen_version: str,
            arch: str, kconfig: tuple[str, ...], kconfig_file: str | None, xen_image: str | None,
            fdt_address: str | None, pa_bits: int | None, kernel_images: tuple[str, ...],
            partial_dtbs: tuple[str, ...], gic_spis: int, config_file: str | None, no_config: bool,
            imagebuilder: str | None, uboot_script: str | None, imagebuilder_dir: str | None,
            assume_sizes: tuple[str, ...], imagebuilder_dialect: str | None, debug: bool, domain: str | None,
            fmt: str, output: str | None, color: str) -> None:
    """Show the host physical map and every domain's guest physical map."""
    output = None if output == "-" else output

    def body() -> int:
        from xenplan.report import render
        from xenplan.targets import parse_versions

        analyses, settings, read = _analyse_inputs(output)
        if any(len(parse_versions(s["xen_version"] or "4.22")) > 1 for s in settings):
            raise click.BadParameter("a map shows one release", param_hint="--xen-version")
        if domain is not None:
            names = {d.name for a in analyses for d in a.result.domains}
            if domain not in names:
                raise click.BadParameter(f"no domain named {domain!r} (have: {', '.join(sorted(names))})",
                                         param_hint="--domain")
        _emit(render.memory_map(fmt, analyses, _console(output, color), domain), output,
              [*read, *(f for a in analyses for f in a.files)])
        return 0

    _run(debug, body)


@main.command(epilog=EXAMPLES)
@target_options
@click.option("--op", "ops", multiple=True, metavar="OP",
              help='a run-time operation, repeatable: "domU1 balloon-out 16M", "domU1 populate 4K@0x40000000", '
              '"domU1 increase-reservation 4K", "domU1 set-target 256M", "domU1 destroy", "create NAME 64M"')
@click.option("--scenario", type=_PATH, help="TOML file: ops = [...] plus target settings (run before --op)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=_PATH, help="write the report to a file (never one of the inputs)")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True)
def simulate(debug: bool, ops: tuple[str, ...], scenario: str | None, fmt: str, output: str | None, fail_on: str,
             **_: Any) -> None:
    """Boot INPUT as check does, then replay run-time operations (ballooning, populate, destroy) on it.

    Settings: the command line, then the scenario's, then the configuration's."""
    def body() -> int:
        from xenplan.config import config_files
        from xenplan.report import render
        from xenplan.scenario_file import load_scenario
        from xenplan.simulate import simulate as run
        from xenplan.targets import board_path, node_files

        p = click.get_current_context().params
        sc, doc = load_scenario(scenario) if scenario else (None, None)
        settings = _settings(above_config=sc.settings() if sc else None)
        targets = _targets(settings)
        partials = node_files(p["partial_dtbs"], "--partial-dtb")
        read = _files_read(output, p["inputs"], p["overlays"], [board_path(s["board"]) for s in settings], partials,
                           p["kernel_images"], [s["kconfig_file"] for s in settings], config_files(settings))
        texts = [*(sc.ops if sc else ()), *ops]
        sims = [run(s.input, targets[s.target_key()], texts, p["overlays"], s["include_dirs"], board_path(s["board"]),
                    partials, doc, len(sc.ops) if sc else 0) for s in settings]
        _emit(render.simulation(fmt, sims, _console(output)), output,
              [*read, *([scenario] if scenario else []), *(f for a in sims for f in a.files)])
        failed = any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[s["fail_on"] or fail_on]
                     for a, s in zip(sims, settings, strict=True) for f in a.findings)
        return 1 if failed else 0

    _run(debug, body)


@main.command("config")
@functools.partial(target_options, inputs_required=False)
@click.option("--select", multiple=True, help="as for check")
@click.option("--ignore", multiple=True, help="as for check")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def config_cmd(debug: bool, fmt: str, **_: Any) -> None:
    """Show the settings in force for each INPUT (default: this folder) and where each came from."""
    def body() -> int:
        from xenplan.config import render_settings

        _emit(render_settings(_settings(), fmt), None)
        return 0

    _run(debug, body)


@main.command("plan")
@click.argument("board_input", metavar="[BOARD]", required=False, type=_INPUT_PATH)
@click.option("--spec", "spec_path", type=_INPUT_PATH,
              help="what to place (TOML: [xen], [dom0], [[domain]], [[shared-memory]], [[event-channel]])")
@click.option("--repair", is_flag=True, help="instead of a spec: move or resize what BOARD's placement and size "
              "mistakes need, and print the change as a diff")
@click.option("--in-place", is_flag=True, help="with --repair: rewrite BOARD (and the included files it changes)")
@click.option("--board", help="qemu-virt, zcu102 or a board tree's path (BOARD is merged onto it when both given)")
@click.option("-I", "--include", "include_dirs", multiple=True, type=_PATH, help="include directory for DTS")
@click.option("--xen-version", help="overrides [xen] version")
@click.option("--arch", type=click.Choice(["arm64", "arm32"]), default="arm64", show_default=True)
@click.option("--kconfig", multiple=True, metavar="K=y,K=n")
@click.option("--kconfig-file", type=_PATH, metavar="PATH", help="Xen's .config; --kconfig overrides it")
@click.option("--xen-image", help="START:SIZE of Xen's image (overrides [xen] image)")
@click.option("--fdt-address", help="START[:SIZE] of the DTB (overrides [xen] fdt)")
@click.option("--pa-bits", type=int, help="physical address bits of the CPU (32 to 52)")
@click.option("--gic-spis", type=int, default=224, show_default=True, help="SPIs of the host GIC (0 to 988)")
@click.option("--kernel-image", "kernel_images", multiple=True, metavar="NODE=FILE",
              help="with --repair: the kernel a domain (name) or module (path) loads, to read its header")
@click.option("--partial-dtb", "partial_dtbs", multiple=True, metavar="NODE=FILE",
              help="with --repair: the passthrough device tree a domain (name) or module (path) loads")
@click.option("--format", "fmt", type=click.Choice(["text", "dts", "overlay", "fragment", "imagebuilder", "json"]),
              default="text", show_default=True)
@click.option("-o", "--output", type=_PATH, help="write the plan (or the repaired board) to a file (never "
              "one of the inputs)")
@click.option("--config", "config_file", type=_PATH, metavar="FILE",
              help="configuration file (default: found from SPEC's folder); below the spec and the command line")
@click.option("--no-config", is_flag=True, help="read no configuration file")
@click.option("--debug", is_flag=True, help="show tracebacks of internal errors")
def plan_cmd(board_input: str | None, spec_path: str | None, repair: bool, in_place: bool, board: str | None,
             include_dirs: tuple[str, ...], xen_version: str | None, arch: str, kconfig: tuple[str, ...],
             kconfig_file: str | None, xen_image: str | None, fdt_address: str | None, pa_bits: int | None,
             gic_spis: int, kernel_images: tuple[str, ...], partial_dtbs: tuple[str, ...], fmt: str,
             output: str | None, config_file: str | None, no_config: bool, debug: bool) -> None:
    """Place domains, shared memory and modules from a spec and write the layout only if it boots;
    or, with --repair, fix BOARD's placement and size mistakes and show the change."""
    def body() -> int:
        if repair:
            if spec_path is not None:
                raise click.UsageError("give --spec (plan a layout) or --repair (repair BOARD), not both")
            return _repair(board_input, board, include_dirs, xen_version or "4.22", arch, kconfig, kconfig_file,
                           xen_image, fdt_address, pa_bits, gic_spis, kernel_images, partial_dtbs, fmt, output,
                           in_place)
        if spec_path is None:
            raise click.UsageError("give --spec SPEC.toml (plan a layout) or --repair (repair BOARD)")
        if in_place or kernel_images or partial_dtbs:
            raise click.UsageError("--in-place, --kernel-image and --partial-dtb go with --repair (a spec names its "
                                   "kernels and device trees itself)")
        from xenplan.plan.planner import PlanOptions, make_plan
        from xenplan.plan.spec import load_spec
        from xenplan.report import plan as plan_report
        from xenplan.targets import board_path

        configured = _plan_configuration(spec_path, config_file, no_config)
        board_name = board or configured.pop("board", None)
        inputs = [spec_path, *([board_input] if board_input else []),
                  *([p] if (p := board_path(board_name)) else []), *([kconfig_file] if kconfig_file else []),
                  *([config_file] if config_file else [])]
        if output is not None:
            from xenplan.files import check_output

            check_output(output, inputs)
        spec = load_spec(spec_path)
        result = make_plan(spec, PlanOptions(board_input, board_name,
                                             include_dirs or tuple(configured.pop("include_dirs", ())), xen_version,
                                             kconfig, xen_image, fdt_address, pa_bits, gic_spis, arch, kconfig_file,
                                             configured))
        if not result.written:
            text = plan_report.render("json" if fmt == "json" else "text", result, _console(None))
            click.echo(text, nl=False, err=fmt != "json")
            return 1
        _emit(plan_report.render(fmt, result, _console(output)), output, inputs)
        return 0

    _run(debug, body)


def _plan_configuration(spec_path: str, config_file: str | None, no_config: bool) -> dict[str, Any]:
    """The target settings a configuration gives for a planner run (found from the spec's folder, or
    ``--config``), less those the command line gave: the spec's ``[xen]`` and the command line win."""
    from click.core import ParameterSource

    from xenplan.config import settings_for

    if no_config:
        return {}
    ctx = click.get_current_context()
    given = {n for n in ctx.params if ctx.get_parameter_source(n) not in (
        ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None)}
    found = settings_for(spec_path, {}, set(), config_file)
    keys = ("xen_version", "arch", "kconfig", "kconfig_file", "xen_image", "fdt_address", "pa_bits", "board",
            "gic_spis", "include_dirs")
    return {k: found.settings[k].value for k in keys
            if k in found.settings and found.settings[k].origin in ("config", "per-file") and k not in given}


def _repair(board_input: str | None, board: str | None, include_dirs: Sequence[str], xen_version: str, arch: str,
            kconfig: Sequence[str], kconfig_file: str | None, xen_image: str | None, fdt_address: str | None,
            pa_bits: int | None, gic_spis: int, kernel_images: Sequence[str], partial_dtbs: Sequence[str],
            fmt: str, output: str | None, in_place: bool) -> int:
    """``plan --repair`` (``xenplan.plan.repair``): exit 0 when the repaired board boots cleanly."""
    from xenplan.plan import repair as rp
    from xenplan.report.repair_out import render
    from xenplan.targets import board_path, node_files

    if fmt not in ("text", "json"):
        raise click.UsageError(f"--repair reports as text or json, not {fmt}")
    if board_input is None or board_input == "-" or (output is not None and in_place):
        raise click.UsageError("--repair takes one BOARD file (not standard input), and -o FILE or --in-place, "
                               "not both")
    target = _target(xen_version, arch, kconfig, xen_image, fdt_address, pa_bits, gic_spis, board, kernel_images,
                     kconfig_file)
    partials = node_files(partial_dtbs, "--partial-dtb")
    read = _files_read(output, [board_input], (), [board_path(board)], partials, kernel_images, [kconfig_file], [])
    try:
        rep = rp.repair(board_input, target, include_dirs, board_path(board), partials)
    except rp.RepairError as exc:
        raise InputError(board_input, f"cannot write the repair: {exc}") from exc
    written = rp.write(rep, output, in_place, [*read, *rep.before.files])
    _emit(render(fmt, rep, written), None)
    return 0 if rep.ok else 1


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


def _files_read(output: str | None, inputs: Sequence[str], overlays: Sequence[str], boards: Sequence[str | None],
                partials: dict[str, str], kernel_images: Sequence[str], kconfig_files: Sequence[str | None],
                configs: Sequence[str]) -> list[str]:
    """The files a run reads; before any work, ``-o`` naming one of them (or no writable place) is refused."""
    from xenplan.files import check_output
    from xenplan.targets import node_files

    files = list(dict.fromkeys([*inputs, *overlays, *filter(None, boards), *partials.values(),
                                *node_files(kernel_images, "--kernel-image").values(), *filter(None, kconfig_files),
                                *configs]))
    if output is not None:
        check_output(output, files)
    return files


def _emit(text: str | Iterable[str] | None, output: str | None, inputs: Sequence[str] = ()) -> None:
    """Print ``text`` (or its pieces, as they are made, in writes of about 1 MiB), or write it to ``output``
    through ``xenplan.files.write_output`` (atomic, never an input)."""
    if text is None:
        return
    if output is not None:
        from xenplan.files import write_output

        write_output(output, text, inputs)
        return
    batch: list[str] = []
    size = 0
    for piece in [text] if isinstance(text, str) else text:
        batch.append(piece)
        size += len(piece)
        if size >= 1 << 20:
            click.echo("".join(batch), nl=False, color=True)  # the renderers decided about colour (--color)
            batch, size = [], 0
    if batch:
        click.echo("".join(batch), nl=False, color=True)
