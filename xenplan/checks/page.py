"""PAGE: the state of static pages when Xen sets them up and acquires them (§6).

Every rule here is met by a boot stage (``boot/setup_mm.py`` while the heap
is filled, ``boot/domains.py`` and ``boot/shm.py`` while pages are
acquired), so these are metadata and documentation only.
"""

from __future__ import annotations

from xenplan.checks.registry import rule


@rule(id="PAGE-002", slug="static-page-not-free", behaviour="PANIC", since="4.16",
      xen_src="xen/common/page_alloc.c: prepare_staticmem_pages()",
      xen_message="Failed to allocate requested static memory for domain dN.")
def static_page_not_free() -> None:
    """What Xen does: acquiring a static bank requires every page to be exactly
    "free and static". A page that was never set up as static (a bank whose
    start is not page aligned, or one left out by SMEM-016 on 4.16-4.18), or
    one already owned (a shared-memory owner acquired twice), makes Xen print
    "pg[i] Static MFN ... c=... t=..." and "dN: failed to acquire static
    memory: -2.", then panic ("Failed to allocate requested static memory
    for domain dN." or, 1:1, "Failed to assign requested static memory for
    direct-map domain dN.").

    Why it matters: the panic happens while the domain is built; it and every
    later domain never start.

    Example: ``xen,static-mem = <0x0 0x60000800 0x0 0x8000000>;`` starts in
    the middle of a page and fails; ``<0x0 0x60000000 0x0 0x8000000>`` works.

    Fix: start every static bank on a 4 KiB boundary, and give each static
    range a single owner.
    """


@rule(id="PAGE-003", slug="static-over-allocation", behaviour="PANIC", since="4.16",
      xen_src="xen/common/page_alloc.c: assign_pages()",
      xen_message="Failed to allocate requested static memory for domain dN.")
def static_over_allocation() -> None:
    """What Xen does: each acquired static bank is counted against the domain's
    limit, ``memory`` / 4 KiB pages (plus shared-memory pages it owns). The
    first bank that pushes the count over the limit makes Xen print
    "Over-allocation for dN: X > Y" and "dN: failed to acquire static memory:
    -22.", then panic. This comes before the final ``memory`` comparison
    (SMEM-013), so static banks larger than ``memory`` are reported here.

    Why it matters: the domain is never built and Xen stops booting.

    Example: ``memory = <0x0 0x10000>;`` (64 MiB) with
    ``xen,static-mem = <0x0 0x60000000 0x0 0x8000000>;`` (128 MiB) fails;
    ``memory = <0x0 0x20000>;`` matches the bank.

    Fix: set ``memory`` (KiB) to the total size of the static banks.
    """


@rule(id="PAGE-005", slug="static-page-freed-twice", behaviour="CRASH", since="4.16", until="4.18",
      xen_src="xen/common/page_alloc.c: mark_page_free()",
      xen_message="Xen BUG at common/page_alloc.c:1423")
def static_page_freed_twice() -> None:
    """What Xen does: 4.16 and 4.17 do not check static ranges against each other
    in the early scan. When two static banks share a page (two domains, one
    domain, or on 4.17 a static bank and a static shared-memory region), the
    second set-up finds the page already free; when a static bank lies
    inside the 4.17 static heap, filling the heap finds it. Either way
    ``mark_page_free()`` prints "pg MFN ... c=..." and hits a BUG ("Xen BUG
    at page_alloc.c:1419" on 4.16.7, "Xen BUG at common/page_alloc.c:1423" on
    4.17.7) before any domain exists. From 4.18 the early scan refuses the
    second range instead (RSV-010).

    Why it matters: Xen crashes during memory set-up; nothing boots.

    Example (4.17): two domains with ``xen,static-mem = <0x0 0x60000000 0x0
    0x8000000>;`` each; giving the second ``<0x0 0x68000000 0x0 0x8000000>``
    fixes it.

    Fix: make every static bank, shared-memory region and static-heap bank
    disjoint.
    """


@rule(id="PAGE-006", slug="static-page-merged-into-heap", behaviour="CRASH", since="4.16", until="4.17",
      xen_src="xen/common/page_alloc.c: free_heap_pages()",
      xen_message="CPU0: Unexpected Trap: Data Abort")
def static_page_merged_into_heap() -> None:
    """What Xen does: 4.16 fills its heap one page at a time and merges each page
    with its free buddy - without excluding static pages. A heap page right
    before a static bank starting on an odd page, or right after one ending
    on an odd page, merges with the static page; unlinking it then
    dereferences a null list pointer and Xen takes a data abort. 4.17 stopped
    merging static pages.

    Why it matters: Xen 4.16 crashes during memory set-up; nothing boots.

    Example (4.16): ``xen,static-mem = <0x0 0x60000000 0x0 0x3000>;`` (12 KiB,
    ends on an odd page) crashes; ``<0x0 0x60000000 0x0 0x4000>`` does not.

    Fix: on 4.16, start and end every static bank on an 8 KiB boundary
    (better: 2 MiB), or upgrade to 4.17 or later.
    """
