"""Reference cycles left by every request, freed by the collector at its pace.

Each request builds a small parent/child tree whose nodes point at each
other. Reference counting cannot free it; the cyclic collector does, whenever
its generation thresholds are reached. Between collections garbage waits, so
memory saws up and down, but it does not grow.
"""

import itertools


class Node:
    def __init__(self, name, parent=None):
        self.name = name
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


_ids = itertools.count()


def request(i):
    n = next(_ids)
    root = Node("doc-%d" % n)
    for k in range(5):
        section = Node("s%d" % k, root)
        Node("p", section)
    return len(root.children)


def main(requests=20000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print("parsed documents; their cycles were collected along the way")
