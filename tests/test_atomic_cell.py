"""The Python-visible AtomicCell of stressmm._native: every op, every order, bad orders, and
atomicity under Python threads."""
import threading

import pytest

from stressmm._native import AtomicCell
from stressmm.program import Order

ALL = ["relaxed", "acquire", "release", "acq_rel", "seq_cst"]
LOAD = ["relaxed", "acquire", "seq_cst"]
STORE = ["relaxed", "release", "seq_cst"]


def test_default_value_and_repr():
    assert AtomicCell().load() == 0
    assert repr(AtomicCell(-3)) == "AtomicCell(-3)"


@pytest.mark.parametrize("order", LOAD + [Order.ACQUIRE])
def test_load(order):
    assert AtomicCell(42).load(order) == 42


@pytest.mark.parametrize("order", STORE + [Order.RELEASE])
def test_store(order):
    c = AtomicCell(1)
    assert c.store(-7, order) is None
    assert c.load() == -7


@pytest.mark.parametrize("order", ALL + [Order.ACQ_REL])
def test_exchange(order):
    c = AtomicCell(5)
    assert c.exchange(9, order) == 5
    assert c.load() == 9


@pytest.mark.parametrize("order", ALL)
def test_fetch_add_returns_old_value(order):
    c = AtomicCell(5)
    assert c.fetch_add(3, order) == 5
    assert c.fetch_add(-10, order=order) == 8
    assert c.load() == -2


def test_fetch_add_wraps_at_64_bits():
    c = AtomicCell(2**63 - 1)
    assert c.fetch_add(1) == 2**63 - 1
    assert c.load() == -2**63


@pytest.mark.parametrize("order", ALL)
def test_compare_exchange(order):
    c = AtomicCell(1)
    assert c.compare_exchange(1, 2, order) == (True, 1)
    assert c.load() == 2
    assert c.compare_exchange(1, 3, order) == (False, 2)
    assert c.load() == 2


@pytest.mark.parametrize("method,args,order", [
    ("load", (), "release"), ("load", (), "acq_rel"),
    ("store", (1,), "acquire"), ("store", (1,), "acq_rel"),
])
def test_order_invalid_for_the_op(method, args, order):
    with pytest.raises(ValueError, match=f"{order} is not a valid order for {method}"):
        getattr(AtomicCell(), method)(*args, order)


@pytest.mark.parametrize("method,args", [("load", ()), ("store", (1,)), ("exchange", (1,)),
                                         ("fetch_add", (1,)), ("compare_exchange", (0, 1))])
def test_unknown_order(method, args):
    with pytest.raises(ValueError, match="unknown memory order 'sequential'"):
        getattr(AtomicCell(), method)(*args, "sequential")
    with pytest.raises(TypeError, match="memory order must be a str"):
        getattr(AtomicCell(), method)(*args, 4)


def test_value_out_of_range():
    with pytest.raises(OverflowError, match="64-bit"):
        AtomicCell().store(2**64)
    with pytest.raises(OverflowError):
        AtomicCell(2**70)


def test_threaded_fetch_add_is_exact():
    cell, threads, per_thread = AtomicCell(), 4, 20_000

    def work():
        for _ in range(per_thread):
            cell.fetch_add(1, "relaxed")

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert cell.load() == threads * per_thread


def test_threaded_compare_exchange_gives_each_ticket_once():
    cell, seen, lock = AtomicCell(), [], threading.Lock()

    def work():
        mine = []
        for _ in range(5000):
            while True:
                old = cell.load("relaxed")
                ok, _ = cell.compare_exchange(old, old + 1, "acq_rel")
                if ok:
                    mine.append(old)
                    break
        with lock:
            seen.extend(mine)

    workers = [threading.Thread(target=work) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(seen) == list(range(15000))
