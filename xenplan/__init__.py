"""xenplan: a boot planner and validator for Xen dom0less systems on Arm.

Data flows one way: ``dt.load`` -> ``model.build`` -> ``boot.simulate`` ->
``checks.run`` -> ``report``.
"""

__version__ = "0.1.0"
