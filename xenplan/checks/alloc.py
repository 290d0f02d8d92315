"""ALLOC: RAM of a dynamic domU, taken from Xen's heap, and its P2M pool (§7.2).

``boot/domains.py`` and ``boot/placement.py`` replay the allocation and
report ALLOC-002/006/007. ALLOC-006 also reads the model: an explicit
``xen,domain-p2m-mem-mb`` below the size Xen would have chosen.
"""

from __future__ import annotations

from xenplan.checks.registry import rule


@rule(id="ALLOC-002", slug="dynamic-memory-unavailable", behaviour="PANIC", since="4.16",
      xen_src="xen/common/device-tree/domain-build.c: allocate_memory()",
      xen_message="Failed to allocate requested domain memory. NKB unallocated. Fix the VMs configurations.")
def dynamic_memory_unavailable() -> None:
    """What Xen does: fills the guest banks of a domain without static memory
    from its heap (3 GiB at 0x40000000, the rest at 0x200000000). When the
    heap runs out, or ``memory`` is above the 1019 GiB the two windows hold,
    it panics "Failed to allocate requested domain memory. NKB unallocated.
    Fix the VMs configurations." - N counting every bank that was not
    completely filled.

    Why it matters: the domain is never built and Xen stops booting.

    Example: ``memory = <0x0 0x200000>;`` (2 GiB) on a 1 GiB board fails;
    ``memory = <0x0 0x20000>;`` (128 MiB) fits.

    Fix: lower ``memory`` so all domains, their P2M pools and Xen fit in RAM.
    """


@rule(id="ALLOC-003", slug="guest-ram-above-ipa", behaviour="PANIC", since="4.16",
      xen_src="xen/arch/arm/mmu/p2m.c: p2m_set_entry()",
      xen_message="Failed to allocate requested domain memory. NKB unallocated. Fix the VMs configurations.")
def guest_ram_above_ipa() -> None:
    """What Xen does: maps the second guest bank at 0x200000000 upwards. If it ends
    above what the P2M covers (2^IPA bits: the CPU's physical address size,
    capped by the SMMU), the mapping fails and the allocation panics "Failed
    to allocate requested domain memory...". With a 40-bit IPA the window
    ends exactly at 1 TiB; with 36 bits only 56 GiB of it exist.

    Why it matters: the domain is never built and Xen stops booting.

    Example (36-bit IPA): ``memory = <0x0 0x3c00000>;`` (60 GiB) fails;
    ``memory = <0x0 0x3800000>;`` (56 GiB) fits.

    Fix: keep ``memory`` at most 3 GiB + (2^IPA - 8 GiB).
    """


@rule(id="ALLOC-006", slug="p2m-pool-too-small", behaviour="PANIC", since="4.16.3",
      xen_src="xen/common/device-tree/dom0less-build.c: domain_p2m_set_allocation()",
      xen_message="Could not set up domain D (rc = -12)")
def p2m_pool_too_small() -> None:
    """What Xen does: before any RAM, each domU gets a pool of pages for its
    stage-2 page tables: ``xen,domain-p2m-mem-mb`` MiB if given, else 1 MiB
    per vCPU + 4 KiB per MiB of RAM + 512 KiB, rounded up to whole MiB (4.17;
    4.16 from 4.16.3). If the heap cannot supply it Xen prints "Failed to
    allocate P2M pages." and panics "Could not set up domain D (rc = -12)"
    (reported by the boot simulation). With a static heap the pools come
    from it alone, after the frame table. A pool given smaller than the
    default is accepted but can run out later (RT-012).

    Why it matters: the domain is never built and Xen stops booting.

    Example: a 64 MiB static heap on a 4 GiB board keeps 8 MiB after the
    frame table; a domain with ``cpus = <128>;`` needs a 129 MiB pool and
    fails on 4.22, with ``cpus = <1>;`` its 2 MiB pool fits.

    Fix: drop ``xen,domain-p2m-mem-mb`` to get Xen's default, or set it at
    least to the default (1 MiB per vCPU + 1 MiB per 256 MiB of RAM + 1 MiB),
    and keep enough free heap for every domain's pool.
    """


@rule(id="ALLOC-007", slug="dynamic-memory-not-page-multiple", behaviour="HANG", since="4.16",
      xen_src="xen/common/device-tree/domain-build.c: allocate_bank_memory()")
def dynamic_memory_not_page_multiple() -> None:
    """What Xen does: fills a dynamic domain's bank in power-of-two chunks. For a
    ``memory`` that is not a multiple of 4 KiB, the last remainder is below
    one page; the chunk order computed for it wraps around to a huge value,
    and the loop retries about 4.3 billion times, one order lower each time.
    On every release Xen hangs after "Allocating mappings totalling ...MB
    for dN:", with no panic message.

    Why it matters: the board just hangs during boot; nothing points at the
    cause.

    Example: ``memory = <0x0 0x20001>;`` (128 MiB + 1 KiB) hangs;
    ``memory = <0x0 0x20000>;`` boots.

    Fix: make ``memory`` a multiple of 4 (KiB).
    """
