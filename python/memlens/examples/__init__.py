"""The four classic Python memory leaks, each runnable, each with its fix beside it.

=================  =============================  ===============================
scenario           leaking version                fixed version
=================  =============================  ===============================
module_list        ``leak_module_list.py``        ``fixed_module_list.py``
class_attribute    ``leak_class_attribute.py``    ``fixed_class_attribute.py``
closure            ``leak_closure.py``            ``fixed_closure.py``
listener           ``leak_listener.py``           ``fixed_listener.py``
=================  =============================  ===============================

Run one: ``python -m memlens.examples.leak_closure`` (prints what grows, round
after round). Run them all under memlens, with the reference chain that holds
each leak: ``memlens demo``.

Every scenario module defines ``work(n)``, one unit of the program's work
(handle a request, open a session, …), which the demo calls repeatedly.
"""

SCENARIOS = ("module_list", "class_attribute", "closure", "listener")
