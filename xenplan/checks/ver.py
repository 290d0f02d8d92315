"""VER: what differs per Xen release (rulebook §16).

Both rules describe how the simulation is keyed on the release; they yield
no findings of their own. The boot stages apply them: each event carries
the release's behaviour, and ``xenplan.boot.messages`` gives the texts.
"""

from __future__ import annotations

from xenplan.checks.registry import rule


@rule(id="VER-001", slug="stop-point-per-release", behaviour="INFO", since="4.16",
      xen_src="xen/arch/arm/setup.c: start_xen()")
def ver_001() -> None:
    """What Xen does: the first failure reached decides the verdict, and
    where each class of error stops Xen depends on the release:

    | class | 4.16 | 4.17 | 4.18 | 4.19+ |
    |---|---|---|---|---|
    | malformed or overlapping early-scan item | TRUNC (no overlap checks) | TRUNC (shm only) | TRUNC | PANIC early-fdt |
    | static pages outside RAM | CRASH | CRASH | CRASH | CRASH |
    | static pages initialised twice | CRASH | CRASH | unreachable | unreachable |
    | frame table does not fit the static heap | – | CRASH | CRASH | CRASH |
    | no domU kernel recorded | PANIC (stage other) | same | same | same |
    | static bank split over 3 GiB | PANIC | PANIC | PANIC | PANIC up to 4.21, boots on 4.22 |
    | guest DTB larger than its buffer | PANIC | PANIC | PANIC | PANIC up to 4.21 |

    Inside the early scan the first failing node in document order wins;
    among domains, the first failing domain in DT order, and inside it the
    construction steps in order.

    Why it matters: the same board can boot on one release, crash on an
    older one and stop in the early scan on a newer one; check against the
    release you flash.

    Example: two overlapping static banks crash 4.16/4.17, make 4.18 fail
    the second domain, and stop 4.19+ in the early scan; separate banks
    boot everywhere.

    Fix: pass `--xen-version` for the release you run.
    """


@rule(id="VER-002", slug="panic-texts-per-release", behaviour="INFO", since="4.16",
      xen_src="xen/common/device-tree/dom0less-build.c: create_domUs(); xen/arch/arm/domain_build.c: "
              "construct_dom0(); xen/common/page_alloc.c")
def ver_002() -> None:
    """What Xen does: the panic and BUG texts change between releases:

    | event | 4.16 | 4.17 | 4.18 | 4.20 | 4.22 |
    |---|---|---|---|---|---|
    | domain creation | Error creating domain D | same | ... (rc = -22) | same | same |
    | domain construction | Could not set up domain D | same | ... (rc = N) | same | same |
    | dom0 fallback | Could not set up DOM0 guest OS | same | ... (rc = -2) | same | Could not set up d0 guest OS (rc = -2) |
    | BUG in `mark_page_free()` | page_alloc.c:1419 | common/page_alloc.c:1423 | :1438 | :1480 | :1522 |
    | BUG in `alloc_boot_pages()` | page_alloc.c:436 | common/page_alloc.c:440 | :447 | :463 | :464 |

    Static-memory panics ("Failed to allocate requested static memory for
    domain dN.") and the data abort text are the same everywhere. BUG line
    numbers are those of the release tags; other point releases differ.

    Why it matters: `failed_at.message` is the text that release prints, so
    logs can be matched to a finding.

    Example: the same missing kernel prints "Could not set up DOM0 guest
    OS" on 4.17 and "Could not set up d0 guest OS (rc = -2)" on 4.22.

    Fix: nothing to fix; compare logs with the message for your release.
    """
