/* AtomicCell: a Python-visible 64-bit atomic integer with C11 memory orders.
 *
 * Included from module.c. Every operation parses its order argument into an `mm_order`, checks
 * that the order is valid for that operation, and then dispatches with a switch whose arms use
 * constant orders (a memory order held in a variable makes gcc emit seq_cst code).
 *
 *   >>> from stressmm._native import AtomicCell
 *   >>> c = AtomicCell(5)
 *   >>> c.fetch_add(2, "relaxed"), c.load("acquire")
 *   (5, 7)
 *   >>> c.compare_exchange(7, 9, "seq_cst")
 *   (True, 7)
 */

typedef struct {
    PyObject_HEAD
    int64_t value;
} AtomicCellObject;

static const char *const ORDER_NAMES[MM_ORDER_COUNT] = {
    "relaxed", "acquire", "release", "acq_rel", "seq_cst",
};

/* The orders valid for each kind of operation, as bit sets over mm_order. */
#define ORDER_BIT(o) (1u << (o))
#define LOAD_ORDERS (ORDER_BIT(MM_RELAXED) | ORDER_BIT(MM_ACQUIRE) | ORDER_BIT(MM_SEQ_CST))
#define STORE_ORDERS (ORDER_BIT(MM_RELAXED) | ORDER_BIT(MM_RELEASE) | ORDER_BIT(MM_SEQ_CST))
#define RMW_ORDERS ((1u << MM_ORDER_COUNT) - 1u)

static const char *order_list(unsigned valid, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int o = 0; o < MM_ORDER_COUNT; o++) {
        if (!(valid & ORDER_BIT(o)))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", ORDER_NAMES[o]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* Parse `arg` (a str such as "acquire", or stressmm.program.Order, a str subclass) into an
 * order valid for operation `what`; on failure set ValueError/TypeError and return -1. */
static int parse_order(PyObject *arg, unsigned valid, const char *what)
{
    char buf[96];
    if (arg == NULL)
        return MM_SEQ_CST;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError,
                     "AtomicCell.%s: the memory order must be a str or stressmm.program.Order "
                     "(one of %s), not %.80s", what, order_list(valid, buf, sizeof buf),
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    const char *text = PyUnicode_AsUTF8(arg);
    if (text == NULL)
        return -1;
    for (int o = 0; o < MM_ORDER_COUNT; o++) {
        if (strcmp(text, ORDER_NAMES[o]) != 0)
            continue;
        if (!(valid & ORDER_BIT(o))) {
            PyErr_Format(PyExc_ValueError,
                         "AtomicCell.%s: %s is not a valid order for %s (use one of %s)",
                         what, text, what, order_list(valid, buf, sizeof buf));
            return -1;
        }
        return o;
    }
    PyErr_Format(PyExc_ValueError, "AtomicCell.%s: unknown memory order %R (use one of %s)",
                 what, arg, order_list(valid, buf, sizeof buf));
    return -1;
}

static int parse_value(PyObject *arg, int64_t *out, const char *what)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyErr_Format(PyExc_OverflowError, "AtomicCell.%s: %R does not fit in a signed 64-bit cell",
                     what, arg);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static int cell_init(AtomicCellObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", NULL};
    PyObject *init = NULL;
    int64_t v = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicCell", kwlist, &init))
        return -1;
    if (init != NULL && parse_value(init, &v, "__init__") < 0)
        return -1;
    __atomic_store_n(&self->value, v, __ATOMIC_SEQ_CST);
    return 0;
}

static PyObject *cell_load(AtomicCellObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"order", NULL};
    PyObject *order_arg = NULL;
    int64_t v;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:load", kwlist, &order_arg))
        return NULL;
    switch (parse_order(order_arg, LOAD_ORDERS, "load")) {
    case MM_RELAXED: v = __atomic_load_n(&self->value, __ATOMIC_RELAXED); break;
    case MM_ACQUIRE: v = __atomic_load_n(&self->value, __ATOMIC_ACQUIRE); break;
    case MM_SEQ_CST: v = __atomic_load_n(&self->value, __ATOMIC_SEQ_CST); break;
    default: return NULL;
    }
    return PyLong_FromLongLong(v);
}

static PyObject *cell_store(AtomicCellObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", "order", NULL};
    PyObject *value_arg, *order_arg = NULL;
    int64_t v;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:store", kwlist, &value_arg, &order_arg))
        return NULL;
    if (parse_value(value_arg, &v, "store") < 0)
        return NULL;
    switch (parse_order(order_arg, STORE_ORDERS, "store")) {
    case MM_RELAXED: __atomic_store_n(&self->value, v, __ATOMIC_RELAXED); break;
    case MM_RELEASE: __atomic_store_n(&self->value, v, __ATOMIC_RELEASE); break;
    case MM_SEQ_CST: __atomic_store_n(&self->value, v, __ATOMIC_SEQ_CST); break;
    default: return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *cell_exchange(AtomicCellObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", "order", NULL};
    PyObject *value_arg, *order_arg = NULL;
    int64_t v, old;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:exchange", kwlist, &value_arg, &order_arg))
        return NULL;
    if (parse_value(value_arg, &v, "exchange") < 0)
        return NULL;
    switch (parse_order(order_arg, RMW_ORDERS, "exchange")) {
    case MM_RELAXED: old = __atomic_exchange_n(&self->value, v, __ATOMIC_RELAXED); break;
    case MM_ACQUIRE: old = __atomic_exchange_n(&self->value, v, __ATOMIC_ACQUIRE); break;
    case MM_RELEASE: old = __atomic_exchange_n(&self->value, v, __ATOMIC_RELEASE); break;
    case MM_ACQ_REL: old = __atomic_exchange_n(&self->value, v, __ATOMIC_ACQ_REL); break;
    case MM_SEQ_CST: old = __atomic_exchange_n(&self->value, v, __ATOMIC_SEQ_CST); break;
    default: return NULL;
    }
    return PyLong_FromLongLong(old);
}

/* Returns the old value, like C11 atomic_fetch_add (wrapping on overflow, as two's complement). */
static PyObject *cell_fetch_add(AtomicCellObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"value", "order", NULL};
    PyObject *value_arg, *order_arg = NULL;
    int64_t v, old;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:fetch_add", kwlist, &value_arg, &order_arg))
        return NULL;
    if (parse_value(value_arg, &v, "fetch_add") < 0)
        return NULL;
    /* Unsigned arithmetic: wrap-around is defined, no signed-overflow UB. */
    uint64_t *cell = (uint64_t *)&self->value, add = (uint64_t)v, prev;
    switch (parse_order(order_arg, RMW_ORDERS, "fetch_add")) {
    case MM_RELAXED: prev = __atomic_fetch_add(cell, add, __ATOMIC_RELAXED); break;
    case MM_ACQUIRE: prev = __atomic_fetch_add(cell, add, __ATOMIC_ACQUIRE); break;
    case MM_RELEASE: prev = __atomic_fetch_add(cell, add, __ATOMIC_RELEASE); break;
    case MM_ACQ_REL: prev = __atomic_fetch_add(cell, add, __ATOMIC_ACQ_REL); break;
    case MM_SEQ_CST: prev = __atomic_fetch_add(cell, add, __ATOMIC_SEQ_CST); break;
    default: return NULL;
    }
    memcpy(&old, &prev, sizeof old);
    return PyLong_FromLongLong(old);
}

/* Strong compare-and-exchange: returns (ok, old). The failure order is the strongest order
 * valid for a load that is not stronger than `order` (acq_rel -> acquire, release -> relaxed). */
static PyObject *cell_compare_exchange(AtomicCellObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"expected", "desired", "order", NULL};
    PyObject *exp_arg, *des_arg, *order_arg = NULL;
    int64_t expected, desired;
    bool ok;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:compare_exchange", kwlist, &exp_arg,
                                     &des_arg, &order_arg))
        return NULL;
    if (parse_value(exp_arg, &expected, "compare_exchange") < 0
        || parse_value(des_arg, &desired, "compare_exchange") < 0)
        return NULL;
    int64_t *cell = &self->value;
    switch (parse_order(order_arg, RMW_ORDERS, "compare_exchange")) {
    case MM_RELAXED:
        ok = __atomic_compare_exchange_n(cell, &expected, desired, false, __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED);
        break;
    case MM_ACQUIRE:
        ok = __atomic_compare_exchange_n(cell, &expected, desired, false, __ATOMIC_ACQUIRE,
                                         __ATOMIC_ACQUIRE);
        break;
    case MM_RELEASE:
        ok = __atomic_compare_exchange_n(cell, &expected, desired, false, __ATOMIC_RELEASE,
                                         __ATOMIC_RELAXED);
        break;
    case MM_ACQ_REL:
        ok = __atomic_compare_exchange_n(cell, &expected, desired, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE);
        break;
    case MM_SEQ_CST:
        ok = __atomic_compare_exchange_n(cell, &expected, desired, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST);
        break;
    default:
        return NULL;
    }
    /* On failure `expected` now holds the value seen; on success it is the old value. */
    return Py_BuildValue("(NL)", PyBool_FromLong(ok), (long long)expected);
}

static PyObject *cell_repr(AtomicCellObject *self)
{
    return PyUnicode_FromFormat("AtomicCell(%lld)",
                                (long long)__atomic_load_n(&self->value, __ATOMIC_SEQ_CST));
}

static PyMethodDef cell_methods[] = {
    {"load", (PyCFunction)(void (*)(void))cell_load, METH_VARARGS | METH_KEYWORDS,
     "load(order='seq_cst') -> int: atomic load (relaxed, acquire or seq_cst)."},
    {"store", (PyCFunction)(void (*)(void))cell_store, METH_VARARGS | METH_KEYWORDS,
     "store(value, order='seq_cst'): atomic store (relaxed, release or seq_cst)."},
    {"exchange", (PyCFunction)(void (*)(void))cell_exchange, METH_VARARGS | METH_KEYWORDS,
     "exchange(value, order='seq_cst') -> old value."},
    {"fetch_add", (PyCFunction)(void (*)(void))cell_fetch_add, METH_VARARGS | METH_KEYWORDS,
     "fetch_add(value, order='seq_cst') -> old value (64-bit two's complement wrap-around)."},
    {"compare_exchange", (PyCFunction)(void (*)(void))cell_compare_exchange,
     METH_VARARGS | METH_KEYWORDS,
     "compare_exchange(expected, desired, order='seq_cst') -> (ok, old): strong CAS; "
     "old is the value the cell held."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AtomicCellType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "stressmm._native.AtomicCell",
    .tp_basicsize = sizeof(AtomicCellObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "AtomicCell(value=0): a 64-bit atomic integer with C11 memory orders.\n\n"
              "Orders are 'relaxed', 'acquire', 'release', 'acq_rel', 'seq_cst' (or\n"
              "stressmm.program.Order); the default is seq_cst. An order that is not valid\n"
              "for the operation (e.g. load('release')) raises ValueError.\n\n"
              ">>> c = AtomicCell(1); c.fetch_add(1, 'relaxed'), c.load('acquire')\n(1, 2)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)cell_init,
    .tp_repr = (reprfunc)cell_repr,
    .tp_methods = cell_methods,
};
