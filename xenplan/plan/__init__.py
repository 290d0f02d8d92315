"""The planner: from what an integrator wants to a layout the simulated Xen boots.

A client of the simulator: every layout it proposes is analysed as ``check``
would analyse it before it is written. Only the report layer and the CLI
import it.
"""
