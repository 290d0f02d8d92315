"""Xen's panic and BUG texts, per release (VER-002).

Line numbers of BUGs are those of the recorded release tags; other point
releases of the same line are given the tag's numbers as the best estimate.
"""

from __future__ import annotations

from xenplan.model.target import XenVersion

#: ``mark_page_free()`` BUG line per release line (page initialised twice / impossible state).
_MARK_PAGE_FREE = {(4, 16): 1419, (4, 17): 1423, (4, 18): 1438, (4, 19): 1480, (4, 20): 1480,
                   (4, 21): 1522, (4, 22): 1522, (4, 23): 1522}
#: ``alloc_boot_pages()`` final BUG line per release line.
_ALLOC_BOOT_PAGES = {(4, 16): 436, (4, 17): 440, (4, 18): 447, (4, 19): 463, (4, 20): 463,
                     (4, 21): 464, (4, 22): 464, (4, 23): 464}

DATA_ABORT = "CPU0: Unexpected Trap: Data Abort"


def _bug(v: XenVersion, line: int) -> str:
    if v.line == (4, 16):
        return f"Xen BUG at page_alloc.c:{line}"
    return f"Xen BUG at common/page_alloc.c:{line}"


def bug_mark_page_free(v: XenVersion) -> str:
    return _bug(v, _MARK_PAGE_FREE[v.line])


def bug_alloc_boot_pages(v: XenVersion) -> str:
    return _bug(v, _ALLOC_BOOT_PAGES[v.line])


def with_rc(v: XenVersion, text: str, rc: int) -> str:
    """4.18 added ``(rc = N)`` to the domain creation and construction panics."""
    return f"{text} (rc = {rc})" if v.at_least(4, 18) else text


def error_creating(v: XenVersion, name: str, rc: int = -22) -> str:
    return with_rc(v, f"Error creating domain {name}", rc)


def could_not_set_up(v: XenVersion, name: str, rc: int) -> str:
    return with_rc(v, f"Could not set up domain {name}", rc)


def dom0_fallback(v: XenVersion, rc: int = -2) -> str:
    if v.at_least(4, 21):
        return f"Could not set up d0 guest OS (rc = {rc})"
    return with_rc(v, "Could not set up DOM0 guest OS", rc)


def early_fdt(rc: int) -> str:
    return f"Early FDT parsing failed ({rc})"


def static_alloc_failed(domid: int) -> str:
    return f"Failed to allocate requested static memory for domain d{domid}."


def static_assign_failed(domid: int) -> str:
    return f"Failed to assign requested static memory for direct-map domain d{domid}."


def dyn_alloc_failed(unallocated_kib: int) -> str:
    return (f"Failed to allocate requested domain memory. {unallocated_kib}KB unallocated. "
            "Fix the VMs configurations.")


KRN_NO_ROOM = "Not enough memory in the first bank for the kernel+dtb+initrd"
KRN_NO_SPOT = "Unable to find suitable location for dtb+initrd"
EVTCHN_FAILED = "Could not set up domains evtchn"
