"""EVT: static event channels (``xen,evtchn-v1``).

Xen binds them after every domain is built (S11, ``boot/evtchn.py``), and
that stage reports what it meets. The one collision it cannot see is with
the xenstore event channel, which Xen allocates before the static ones
(EVT-007), read here.
"""

from __future__ import annotations

from xenplan.checks.registry import rule

XENSTORE_PORT = 1
"""The xenstore channel is the domain's lowest free port; port 0 is reserved, nothing else is bound before it."""


@rule(id="EVT-001", slug="static-evtchn-not-built", behaviour="DROP", since="4.16",
      xen_src="xen/common/device-tree/static-evtchn.c: alloc_static_evtchn()")
def static_evtchn_not_built() -> None:
    """What Xen does: without ``CONFIG_STATIC_EVTCHN`` (an option from 4.19;
    always built in 4.17 and 4.18) Xen never looks at ``xen,evtchn-v1``
    nodes: they are ignored without a message. Xen 4.16 does not know the
    binding at all and ignores the nodes too.

    Why it matters: the guests boot, but the channels they expect are not
    there, and drivers that wait for them hang or fail.

    Example: ``--kconfig STATIC_EVTCHN=n`` with::

        ea: evtchn { compatible = "xen,evtchn-v1"; xen,evtchn = <10 &eb>; };

    binds nothing; the same tree on a Xen built with the option binds port 10.

    Fix: build Xen with ``CONFIG_STATIC_EVTCHN=y`` (4.19+), use 4.17 or later,
    or remove the nodes.
    """


@rule(id="EVT-003", slug="static-evtchn-malformed", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-evtchn.c: alloc_domain_evtchn()",
      xen_message="Could not set up domains evtchn")
def static_evtchn_malformed() -> None:
    """What Xen does: each ``xen,evtchn`` must hold ``<local-port &peer>``; the
    peer phandle must name another event-channel node whose own second cell
    points back. A missing or short property, an unknown phandle or a
    one-sided pair panics "Could not set up domains evtchn", after every
    domain was built.

    Why it matters: Xen stops booting; the recordings attribute it to the
    last domain in the tree.

    Example: the peer has no property::

        ea: evtchn@1 { compatible = "xen,evtchn-v1"; xen,evtchn = <10 &eb>; };
        eb: evtchn@2 { compatible = "xen,evtchn-v1"; };

    Fixed: ``eb: evtchn@2 { compatible = "xen,evtchn-v1"; xen,evtchn = <20 &ea>; };``

    Fix: give both ends ``xen,evtchn = <port &other-end>``.
    """


@rule(id="EVT-004", slug="static-evtchn-endpoint-not-domain", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/static-evtchn.c: get_evtchn_dt_property(), alloc_domain_evtchn()",
      xen_message="Could not set up domains evtchn")
def static_evtchn_endpoint_not_domain() -> None:
    """What Xen does: both ends of a channel must sit in a built domain: a
    ``xen,domain`` node, or ``/chosen`` for the hardware domain. A domU
    node whose peer sits under ``/chosen`` when there is no hardware domain
    (or under any other node) panics "could not find domains".

    Why it matters: Xen stops booting after building every domain.

    Example: a dom0less system without dom0 whose domU1 points at
    ``/chosen/evtchn-eb``. Moving that end into another ``xen,domain`` node
    fixes it.

    Fix: put both ends in domains that exist.
    """


@rule(id="EVT-005", slug="static-evtchn-port-out-of-range", behaviour="PANIC", since="4.17",
      xen_src="xen/common/event_channel.c: evtchn_bind_interdomain(), evtchn_alloc_unbound()",
      xen_message="Could not set up domains evtchn")
def static_evtchn_port_out_of_range() -> None:
    """What Xen does: a local port must be at least 1 and at most the domain's
    ``max_evtchn_port`` (1023 for an ordinary domU; not settable from the
    device tree), and below 4096 (the 2-level ABI used at boot). Port 0 or a
    larger one panics. booting.txt's 2^17 applies to FIFO, not at boot.

    Why it matters: Xen stops booting.

    Example: ``xen,evtchn = <1024 &eb>;`` fails; ``<1023 &eb>`` binds.

    Fix: use ports 1 to 1023 in domUs.
    """


@rule(id="EVT-006", slug="static-evtchn-port-reused", behaviour="PANIC", since="4.17",
      xen_src="xen/common/event_channel.c: evtchn_bind_interdomain() (-EBUSY)",
      xen_message="Could not set up domains evtchn")
def static_evtchn_port_reused() -> None:
    """What Xen does: a local port can be bound once per domain; a second
    node of the same domain with the same local port fails with -EBUSY and
    Xen panics. Ports are per domain: both ends may use the same number.

    Why it matters: Xen stops booting.

    Example: domU1 with ``<10 &eb>`` and ``<10 &ed>`` fails; ``<10 &eb>`` and
    ``<11 &ed>`` bind.

    Fix: give every channel of a domain its own local port.
    """


@rule(id="EVT-007", slug="static-evtchn-xenstore-port", behaviour="PANIC", since="4.17",
      xen_src="xen/common/device-tree/dom0less-build.c: alloc_xenstore_evtchn(); "
              "xen/common/device-tree/static-evtchn.c: alloc_domain_evtchn()",
      xen_message="Could not set up domains evtchn", kconfig=("STATIC_EVTCHN",))
def static_evtchn_xenstore_port() -> None:
    """What Xen does: a domU with xenstore (``xen,enhanced`` empty, ``"enabled"``
    or, 4.21+, ``"legacy"``) gets its xenstore event channel before the static
    ones are bound: inside its construction up to 4.20, right after all
    domUs from 4.21. It takes the lowest free port, 1. A static channel that
    asks for local port 1 in that domain then fails with -EBUSY and Xen
    panics "Could not set up domains evtchn".

    Why it matters: Xen stops booting, although each node looks valid on its
    own.

    Example::

        domU1 { xen,enhanced = "enabled"; ea: evtchn { compatible = "xen,evtchn-v1"; xen,evtchn = <1 &eb>; }; };

    Fixed: ``xen,evtchn = <2 &eb>;``, or ``xen,enhanced = "no-xenstore";`` as
    booting.txt recommends with static event channels.

    Fix: start static ports at 2 in domains with xenstore, or disable xenstore
    there.
    """
