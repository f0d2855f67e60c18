"""RC11: C/C++11 atomics as repaired by Lahav, Vafeiadis, Kang, Hur and Dreyer, "Repairing
Sequential Consistency in C/C++11", PLDI 2017 (section numbers below are the paper's).

    >>> from stressmm.syntax import parse
    >>> [sb] = parse('''
    ... litmus SB
    ... var x, y atomic int
    ... P0:
    ...   atomic.Store(&x, 1, relaxed)
    ...   r0 = atomic.Load(&y, relaxed)
    ... P1:
    ...   atomic.Store(&y, 1, relaxed)
    ...   r1 = atomic.Load(&x, relaxed)
    ... ''')
    >>> RC11.allowed(sb).allows("P0:r0=0 P1:r1=0")        # relaxed store buffering
    True
    >>> print(RC11.why_forbidden(sb, "P0:r0=2"))          # doctest: +ELLIPSIS
    SB: P0:r0=2 is forbidden by c11: no execution ... gives those values

An execution graph (§3) has events (reads R, writes W, fences F, each with a mode: na for
plain accesses, rlx, acq, rel, acq_rel or sc), program order sb, the read and write of each
successful read-modify-write related by rmw, reads-from rf and, per location, the
modification order mo. The model's rules are `relations` (one line each) and `AXIOMS` (one
check each); `stressmm.models.build` builds the graphs.

Decisions:
- An RMW is a read and a write related by rmw; its read has the order without `release`
  (acq_rel: acq, release: rlx), its write the order without `acquire`. A failed CAS is a
  read whose order is its success order without `release` (C11's default failure order).
- Plain accesses (`r0 = x`, `x = 1`, of a plain variable or of an atomic one) are non-atomic
  (na). An execution in which two conflicting accesses, one of them na, are not ordered by hb
  is a data race, even when the other one is atomic (§3, "Data races"): the
  behaviour of the whole program is undefined, so the result's `outcomes` allow every outcome
  (`UndefinedOutcomes`); iterating them lists those of the consistent executions.
- A spin loop (`Await`) is the read that ends it (earlier iterations only read more). A
  thread stays blocked in a spin loop forever (the `deadlock` outcome) only when the last
  write of the location in mo fails its condition and every other thread is finished or
  blocked: C11 asks that stores become visible to loads "within a reasonable amount of time"
  ([atomics.order]), so a spinner eventually sees the last write.
- Programs with Go primitives (channels, mutexes, once, waitgroups) are outside C11 here:
  `applies` is False and `allowed` raises `NotApplicable`.
"""
from __future__ import annotations

from typing import Optional

from ..program import Order
from .build import GraphModel, NotApplicable, Relations
from .graph import shortest_path

__all__ = ["RC11", "Rc11Model", "relations", "AXIOMS", "NotApplicable"]


RELATIONS = {
    # §3 same location: sb|loc
    "sb|loc": lambda r: r["sb"] & r["loc"],
    # §3 release sequence: rs = [W] ; sb|loc? ; [W ⊒ rlx] ; (rf ; rmw)*
    "rs": lambda r: r.id("W") @ r["sb|loc"].opt() @ r.id("W", "atomic") @ (r["rf"] @ r["rmw"]).plus().opt(),
    # §3 synchronizes-with: [E ⊒ rel] ; ([F] ; sb)? ; rs ; rf ; [R ⊒ rlx] ; (sb ; [F])? ; [E ⊒ acq]
    "sw": lambda r: r.id("rel") @ (r.id("F") @ r["sb"]).opt() @ r["rs"] @ r["rf"] @ r.id("R", "atomic") @ (r["sb"] @ r.id("F")).opt() @ r.id("acq"),
    # §3 happens-before: hb = (sb ∪ sw)+ (sb is transitive, so hb = sb when sw is empty)
    "hb": lambda r: r["sb"] if r["sw"].empty() else (r["sb"] | r["sw"]).plus(),
    # §3 reads-before (from-read): rb = rf^-1 ; mo
    "rb": lambda r: r["rf"].inverse() @ r["mo"],
    # §3 extended coherence order: eco = (rf ∪ mo ∪ rb)+, which is rf ∪ (mo ∪ rb) ; rf?
    # (mo is transitive, rb ; mo ⊆ rb and rf ; rb ⊆ mo: every path collapses to one of these)
    "eco": lambda r: r["rf"] | (r["mo"] | r["rb"]) @ r["rf"].opt(),
    # §3 sb|≠loc: sb between different locations
    "sb|neq-loc": lambda r: r["sb"] - r["loc"],
    # §3 scb = sb ∪ sb|≠loc ; hb ; sb|≠loc ∪ hb|loc ∪ mo ∪ rb
    "scb": lambda r: r["sb"] | r["sb|neq-loc"] @ r["hb"] @ r["sb|neq-loc"] | (r["hb"] & r["loc"]) | r["mo"] | r["rb"],
    # §3 psc_base = ([E^sc] ∪ [F^sc] ; hb?) ; scb ; ([E^sc] ∪ hb? ; [F^sc])
    "psc-base": lambda r: (r.id("sc") | r.id("F", "sc") @ r["hb"].opt()) @ r["scb"] @ (r.id("sc") | r["hb"].opt() @ r.id("F", "sc")),
    # §3 psc_F = [F^sc] ; (hb ∪ hb ; eco ; hb) ; [F^sc]
    "psc-F": lambda r: r.id("F", "sc") @ (r["hb"] | r["hb"] @ r["eco"] @ r["hb"]) @ r.id("F", "sc"),
    # §3 psc = psc_base ∪ psc_F
    "psc": lambda r: r["psc-base"] | r["psc-F"],
    # §3 the relation No-thin-air keeps acyclic
    "sb|rf": lambda r: r["sb"] | r["rf"],
}
"""The derived relations of RC11, by the paper's names (§3), one line each."""


NEEDS = {"sw": ("rel", "acq"), "psc-base": ("sc",), "psc-F": ("F", "sc"), "psc": ("sc",)}
"""Relations that are empty when one of these event sets is (no release or no acquire
event: no sw; no sc event: no psc)."""


def relations(g) -> Relations:
    """The relations of graph `g` (a `build.Graph`), computed as asked for."""
    return Relations(g, RELATIONS, NEEDS)


def _coherence_cycle(g, r) -> list:
    """An event related to itself by hb ; eco?, as a cycle of sb, sw, rf, mo and rb edges."""
    bad = r["hb"] @ r["eco"].opt()
    a = next(i for i in range(g.n) if bad.rows[i] >> i & 1)
    base_hb, base_eco = g.sb | r["sw"], g.rf | g.mo | r["rb"]
    if r["hb"].rows[a] >> a & 1:
        return base_hb.cycle()
    b = next(j for j in range(g.n) if r["hb"].rows[a] >> j & 1 and r["eco"].rows[j] >> a & 1)
    return (shortest_path(base_hb.successors(), a, b)
            + shortest_path(base_eco.successors(), b, a)[1:])


def _atomicity_cycle(g, r) -> list:
    """An RMW whose write is not right after the write its read reads: its read, a write in
    between (rb), its write (mo)."""
    a, b = (r["rmw"] & (r["rb"] @ r["mo"])).pairs()[0]
    mid = next(j for j in range(g.n) if r["rb"].rows[a] >> j & 1 and g.mo.rows[j] >> b & 1)
    return [a, mid, b]


# The axioms of RC11-consistency (§3, Definition 1), one check each: True when it holds.
AXIOMS = (
    ("coherence", lambda r: r["hb"].irreflexive() and r["hb"].then_irreflexive(r["eco"]),
     "hb ; eco? is irreflexive (§3, Coherence)", _coherence_cycle),
    ("atomicity", lambda r: r["rmw"].empty() or (r["rmw"] & (r["rb"] @ r["mo"])).empty(),
     "rmw ∩ (rb ; mo) is empty (§3, Atomicity)", _atomicity_cycle),
    ("sc", lambda r: r["psc"].acyclic(),
     "psc = psc_base ∪ psc_F is acyclic (§3, SC)", lambda g, r: r["psc"].cycle()),
    ("no-thin-air", lambda r: r["sb|rf"].acyclic(),
     "sb ∪ rf is acyclic (§3, No-thin-air)", lambda g, r: r["sb|rf"].cycle()),
)
"""(name, check, the rule in words, witness): `witness(graph, relations)` is a cycle of event
numbers showing the axiom broken, for `why_forbidden`."""

EDGE_NAMES = ("sb", "rf", "mo", "rb", "rmw", "sw", "hb", "eco", "psc")
"""The relations that name the edges of a witness cycle, the first that holds an edge wins."""


def mode_of_access(order: Optional[Order], atomic: bool, part: str = "") -> str:
    """The RC11 mode of an access: `part` "r" or "w" for the read or write of an RMW.

        >>> mode_of_access(Order.ACQ_REL, True, "r"), mode_of_access(Order.ACQ_REL, True, "w")
        ('acq', 'rel')
        >>> mode_of_access(None, False), mode_of_access(None, True)
        ('na', 'sc')
    """
    if not atomic:
        return "na"
    order = order or Order.SEQ_CST
    if order is Order.SEQ_CST:
        return "sc"
    if part == "r":
        return "acq" if order in (Order.ACQUIRE, Order.ACQ_REL) else "rlx"
    if part == "w":
        return "rel" if order in (Order.RELEASE, Order.ACQ_REL) else "rlx"
    return {Order.RELAXED: "rlx", Order.ACQUIRE: "acq", Order.RELEASE: "rel",
            Order.ACQ_REL: "acq_rel"}[order]


class Rc11Model(GraphModel):
    """The `c11` model: RC11 over the shared execution-graph builder."""

    name = "c11"
    description = ("RC11 (Lahav et al., PLDI 2017): C/C++11 memory orders and fences; data "
                   "races on plain locations make the behaviour undefined")
    relations = staticmethod(relations)
    axioms = AXIOMS
    edge_names = EDGE_NAMES
    sync_relations = (("sw", "synchronizes with"),)
    mode_of_access = staticmethod(mode_of_access)
    by_construction = ("no-thin-air",)    # reads read only writes already in the graph
    # A new event that is last in its thread, read by no one, last in mo if a write, and
    # reading the write last in mo if a read, has no outgoing sb, rf, mo or rb edge, so none
    # in sw, hb, eco, scb or psc either: every pair these gain ends at it, and a cycle (or
    # an rmw ∩ rb ; mo pair) cannot pass through it.
    sinks_keep_consistency = True


RC11 = Rc11Model()
