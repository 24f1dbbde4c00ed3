"""The shared topological sort: parents first, each node once, deterministic, no recursion."""

import random

from ninjagrad.graph import edges, topological_order


class Node:
    def __init__(self, name, *prev):
        self.name = name
        self._prev = prev

    def __eq__(self, other):  # like a tensor: == must not be used to recognise nodes
        raise AssertionError("the walk must not compare nodes with ==")

    __hash__ = None


def names(order):
    return [node.name for node in order]


def test_parents_come_before_children_and_root_is_last():
    a, b = Node("a"), Node("b")
    c = Node("c", a, b)
    d = Node("d", c, a)
    order = topological_order(d)
    assert names(order) == ["a", "b", "c", "d"]


def test_a_diamond_visits_the_shared_node_once():
    x = Node("x")
    left, right = Node("left", x), Node("right", x)
    top = Node("top", left, right)
    order = topological_order(top)
    assert names(order).count("x") == 1
    position = {node.name: i for i, node in enumerate(order)}
    assert position["x"] < position["left"] < position["top"]
    assert position["x"] < position["right"] < position["top"]


def test_a_node_used_twice_by_the_same_child_appears_once():
    a = Node("a")
    order = topological_order(Node("a+a", a, a))
    assert names(order) == ["a", "a+a"]
    assert [(p.name, c.name) for p, c in edges(order)] == [("a", "a+a"), ("a", "a+a")]


def test_a_million_deep_chain_needs_no_recursion():
    node = Node(0)
    for i in range(1, 1_000_000):
        node = Node(i, node)
    order = topological_order(node)
    assert len(order) == 1_000_000
    assert order[0].name == 0 and order[-1].name == 999_999


def test_order_follows_argument_order_and_is_repeatable():
    leaves = [Node(f"x{i}") for i in range(50)]
    root = Node("root", *leaves)
    assert names(topological_order(root)) == [f"x{i}" for i in range(50)] + ["root"]
    assert names(topological_order(root)) == names(topological_order(root))


def test_order_is_the_depth_first_post_order_on_a_random_graph():
    # The definition, written recursively (fine at this depth): parents in argument order, each node placed
    # after all of its parents, the first time it is reached. Leaves and inner nodes mixed, shared nodes.
    rng = random.Random(0)
    nodes = [Node(f"leaf{i}") for i in range(8)]
    for i in range(60):
        nodes.append(Node(f"n{i}", *rng.sample(nodes, rng.randint(1, 4))))
    root = Node("root", *nodes[-5:])

    def post_order(node, seen, out):
        seen.add(id(node))
        for parent in node._prev:
            if id(parent) not in seen:
                post_order(parent, seen, out)
        out.append(node)
        return out

    assert names(topological_order(root)) == names(post_order(root, set(), []))
