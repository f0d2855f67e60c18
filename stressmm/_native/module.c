/* stressmm._native: the native runtime of stressmm.
 *
 * - AtomicCell (atomic_cell.c): a Python-visible atomic integer with C11 memory orders.
 * - execute() (executor.c): runs a compiled litmus program for many iterations on pinned
 *   threads with the GIL released, and returns its outcome histogram.
 * - OPCODES: opcode name -> number, for stressmm/runtime/compile.py.
 * Set-up and argument checking live here; executor.c holds the threads and the hot loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <string.h>

#include "stressmm.h"
#include "atomic_cell.c"
#include "executor.c"

static const char *const STOP_NAMES[] = {"none", "done", "deadline", "table-full", "signal",
                                         "stuck"};

/* Read one int from a sequence item into [lo, hi]; sets ValueError naming `what` otherwise. */
static int get_int(PyObject *obj, long long lo, long long hi, const char *what, long long *out)
{
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < lo || v > hi) {
        PyErr_Format(PyExc_ValueError, "execute: %s must be in [%lld, %lld], got %lld", what, lo,
                     hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

static bool is_recv_op(int code)
{
    return code == OP_RECV || code == OP_MUT_RECV_NONATOMIC || code == OP_MUT_RECV_DUP
        || code == OP_MUT_RECV_LIFO || code == OP_MUT_RECV_EMPTY_ZERO
        || code == OP_MUT_RECV_CLOSED_OK;
}

static bool is_chan_op(int code)
{
    return is_recv_op(code) || code == OP_SEND || code == OP_CLOSE
        || code == OP_MUT_SEND_NONATOMIC || code == OP_MUT_SEND_FULL_DROPS
        || code == OP_MUT_SEND_CLOSED_OK || code == OP_MUT_CLOSE_DROPS
        || code == OP_MUT_CLOSE_TWICE_OK || code == OP_MUT_CLOSE_NO_WAKE;
}

/* Check one instruction against its thread's sizes (nvars: words of an instance). */
static int check_insn(const mm_insn *in, int tid, int i, int ncode, int nvars, int nregs,
                      int nfile)
{
    const char *bad = NULL;
    if (in->code < 0 || in->code >= OP_COUNT)
        bad = "unknown opcode";
    else if (in->code < OP_FENCE_ACQUIRE || in->code > OP_FENCE_SEQ_CST) {
        if (in->loc < 0 || in->loc >= nvars)
            bad = "variable index out of range";
    }
    if (!bad && (in->dst < 0 || in->dst > nregs))   /* registers and the scratch slot */
        bad = "destination register out of range";
    if (!bad && (in->a < 0 || in->a >= nfile))
        bad = "operand slot out of range";
    if (!bad && (in->code == OP_CAS_RELAXED || in->code == OP_CAS_ACQUIRE
                 || in->code == OP_CAS_RELEASE || in->code == OP_CAS_ACQ_REL
                 || in->code == OP_CAS_SEQ_CST || in->code == OP_MUT_CAS_ALWAYS
                 || in->code == OP_MUT_CAS_SPLIT)
        && (in->b < 0 || in->b >= nfile))
        bad = "expected-value slot out of range";
    if (!bad && is_chan_op(in->code)) {
        if (in->b < 0 || in->b > MM_MAX_CAPACITY)
            bad = "channel capacity out of range";
        else if ((long)in->loc + CH_BUF + (in->b > 0 ? in->b : 1) > nvars)
            bad = "channel words out of range";
        else if (is_recv_op(in->code)) {
            if (in->a > nregs)
                bad = "ok register out of range";
        }
    }
    if (!bad && in->code == OP_MUT_WG_WAIT_ONE && (long)in->loc + 2 > nvars)
        bad = "waitgroup words out of range";
    if (!bad && (in->code == OP_MUT_SEND_NONATOMIC || in->code == OP_MUT_RECV_NONATOMIC
                 || in->code == OP_MUT_RECV_LIFO || in->code == OP_MUT_SEND_FULL_DROPS)
        && in->b == 0)
        bad = "this channel mutant needs a capacity";
    if (!bad && (in->code == OP_ONCE_BEGIN || in->code == OP_MUT_ONCE_DONE_EARLY)
        && (in->b <= i || in->b > ncode))
        bad = "once jump target out of range";
    if (bad) {
        PyErr_Format(PyExc_ValueError, "execute: thread %d instruction %d: %s", tid, i, bad);
        return -1;
    }
    return 0;
}

/* Fill `th` from (code, file_init, nregs, delay_lo, delay_hi); code is an int32 buffer. */
static int load_thread(PyObject *spec, mm_thread *th, int tid, int nvars, mm_insn **code_out)
{
    PyObject *code_obj, *file_obj;
    int nregs, lo, hi;
    if (!PyArg_ParseTuple(spec, "OOiii:thread", &code_obj, &file_obj, &nregs, &lo, &hi))
        return -1;
    Py_buffer view;
    if (PyObject_GetBuffer(code_obj, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    int rc = -1;
    PyObject *file = NULL;
    if (view.itemsize != 4 || view.format == NULL || strcmp(view.format, "i") != 0
        || view.len % (Py_ssize_t)sizeof(mm_insn) != 0
        || view.len / (Py_ssize_t)sizeof(mm_insn) > MM_MAX_OPS) {
        PyErr_Format(PyExc_ValueError, "execute: thread %d code must be an array('i') of at "
                     "most %d instructions of %d ints", tid, MM_MAX_OPS, MM_INSN_FIELDS);
        goto done;
    }
    file = PySequence_Fast(file_obj, "execute: a register file must be a sequence of ints");
    if (file == NULL)
        goto done;
    Py_ssize_t nfile = PySequence_Fast_GET_SIZE(file);
    if (nregs < 0 || nfile < nregs + 1 || nfile > MM_MAX_FILE || lo < 0 || hi < lo) {
        PyErr_Format(PyExc_ValueError, "execute: thread %d: bad register file (%d registers, "
                     "%zd slots, at most %d) or delay (%d, %d)", tid, nregs, nfile, MM_MAX_FILE,
                     lo, hi);
        goto done;
    }
    for (Py_ssize_t i = 0; i < nfile; i++) {
        long long v;
        if (get_int(PySequence_Fast_GET_ITEM(file, i), INT64_MIN, INT64_MAX, "a constant", &v))
            goto done;
        th->file_init[i] = (int64_t)v;
    }
    th->ncode = (int)(view.len / (Py_ssize_t)sizeof(mm_insn));
    mm_insn *code = malloc((size_t)(th->ncode ? th->ncode : 1) * sizeof *code);
    if (code == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(code, view.buf, (size_t)view.len);
    *code_out = code;
    for (int i = 0; i < th->ncode; i++)
        if (check_insn(&code[i], tid, i, th->ncode, nvars, nregs, (int)nfile) < 0)
            goto done;
    th->nregs = nregs;
    th->nfile = (int)nfile;
    th->delay_lo = lo;
    th->delay_hi = hi;
    rc = 0;
done:
    Py_XDECREF(file);
    PyBuffer_Release(&view);
    return rc;
}

/* Merge the per-thread tables into a dict: tuple(key words) -> count. */
static PyObject *histogram_dict(mm_run *run)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL)
        return NULL;
    for (int t = 0; t < run->nthreads; t++) {
        mm_table *tab = &run->threads[t].table;
        for (uint32_t i = 0; i <= tab->mask; i++) {
            if (tab->counts[i] == 0)
                continue;
            const int64_t *key = tab->keys + (size_t)i * (size_t)tab->width;
            PyObject *tuple = PyTuple_New(tab->width);
            if (tuple == NULL)
                goto fail;
            for (int w = 0; w < tab->width; w++) {
                PyObject *v = PyLong_FromLongLong(key[w]);
                if (v == NULL) {
                    Py_DECREF(tuple);
                    goto fail;
                }
                PyTuple_SET_ITEM(tuple, w, v);
            }
            PyObject *old = PyDict_GetItemWithError(dict, tuple);
            unsigned long long n = tab->counts[i];
            if (old == NULL && PyErr_Occurred()) {
                Py_DECREF(tuple);
                goto fail;
            }
            if (old != NULL)
                n += PyLong_AsUnsignedLongLong(old);
            PyObject *count = PyLong_FromUnsignedLongLong(n);
            int err = count == NULL ? -1 : PyDict_SetItem(dict, tuple, count);
            Py_XDECREF(count);
            Py_DECREF(tuple);
            if (err < 0)
                goto fail;
        }
    }
    return dict;
fail:
    Py_DECREF(dict);
    return NULL;
}

/* The user's primitives of a run (impl.c): `user` is (address of a stressmm_impl table,
 * ((word, kind, capacity), ...) for every primitive object of the program). */
static int load_user(PyObject *user, mm_run *run, uint64_t seed)
{
    unsigned long long address;
    PyObject *objects_obj;
    if (!PyArg_ParseTuple(user, "KO:user", &address, &objects_obj))
        return -1;
    const stressmm_impl *impl = (const stressmm_impl *)(uintptr_t)address;
    const char *bad = user_check(impl);
    if (bad) {
        PyErr_Format(PyExc_ValueError, "execute: user primitives: %s", bad);
        return -1;
    }
    PyObject *objects = PySequence_Fast(objects_obj, "execute: user objects must be a sequence");
    if (objects == NULL)
        return -1;
    int rc = -1;
    mm_user_run *ur = aligned_alloc(MM_LINE, (sizeof *ur + MM_LINE - 1) / MM_LINE * MM_LINE);
    if (ur == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    memset(ur, 0, sizeof *ur);
    run->user = ur;
    ur->impl = impl;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(objects);
    if (n > MM_USER_MAX_OBJECTS) {
        PyErr_Format(PyExc_ValueError, "execute: %zd primitive objects; with user primitives at "
                     "most %d are supported", n, MM_USER_MAX_OBJECTS);
        goto out;
    }
    size_t biggest = 1;
    for (Py_ssize_t j = 0; j < n; j++) {
        int loc, kind, cap;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(objects, j), "iii:object", &loc, &kind,
                              &cap))
            goto out;
        if (loc < 0 || loc >= run->nvars || kind < 0 || kind >= MM_K_COUNT || cap < 0
            || cap > MM_MAX_CAPACITY) {
            PyErr_Format(PyExc_ValueError, "execute: bad user object (%d, %d, %d)", loc, kind, cap);
            goto out;
        }
        ur->loc[j] = loc * run->loc_stride;
        ur->kind[j] = kind;
        ur->cap[j] = cap;
        size_t size = user_kind_size(impl, kind);
        ur->mine[j] = size > 0;
        if (size > biggest)
            biggest = size;
    }
    ur->nobj = (int)n;
    ur->slot = (biggest + MM_LINE - 1) / MM_LINE * MM_LINE;
    ur->inst_bytes = ur->slot * (size_t)(n ? n : 1);
    if (ur->inst_bytes > MM_USER_MAX_ARENA / (size_t)run->batch) {
        PyErr_Format(PyExc_ValueError, "execute: user objects need %zu bytes per instance; use a "
                     "smaller batch", ur->inst_bytes);
        goto out;
    }
    ur->arena = aligned_alloc(MM_LINE, ur->inst_bytes * (size_t)run->batch);
    if (ur->arena == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (int t = 0; t < run->nthreads; t++)
        user_thread_init(ur, t, seed);
    for (int k = 0; k < run->batch; k++)
        user_reset(ur, k);
    rc = 0;
out:
    Py_DECREF(objects);
    return rc;
}

/* The run with user primitives now going on in this process (at most one: execute holds the
 * GIL while it starts and ends a run), for impl_watch(). */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static mm_run *active_run;

static void set_active(mm_run *run)
{
    pthread_mutex_lock(&active_lock);
    active_run = run;
    pthread_mutex_unlock(&active_lock);
}

static void run_free(mm_run *run, mm_insn **codes)
{
    if (run->user) {
        set_active(NULL);
        free(run->user->arena);
        free(run->user);
    }
    if (run->threads) {
        for (int t = 0; t < run->nthreads; t++) {
            free(run->threads[t].out);
            table_free(&run->threads[t].table);
            free(codes[t]);
        }
    }
    free(run->threads);
    free(run->mem);
    free(run->flags);
}

/* Supervise the workers: the GIL is released while waiting; every 20 ms the signal handlers
 * run, and a pending KeyboardInterrupt (or any signal exception) asks the workers to stop. */
static int supervise(mm_run *run)
{
    int interrupted = 0;
    for (;;) {
        bool all;
        Py_BEGIN_ALLOW_THREADS
        all = run_join_for(run, 20);
        Py_END_ALLOW_THREADS
        if (all)
            break;
        /* Past the deadline, or interrupted: waits still going end now (as timeouts), so a
         * round of stuck instances cannot hold the run for batch x budget spins. */
        if (run->deadline > 0 && mm_now() >= run->deadline)
            __atomic_store_n(&run->hurry, 1, __ATOMIC_RELAXED);
        if (!interrupted && PyErr_CheckSignals() < 0) {
            interrupted = 1;
            __atomic_store_n(&run->hurry, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&run->ext_stop, 1, __ATOMIC_SEQ_CST);
        }
    }
    return interrupted ? -1 : 0;
}

/* The signal's pending exception (KeyboardInterrupt, or what a SIGTERM handler raised) gets an
 * attribute `partial`: (counts, iterations_done, elapsed, "signal") for the iterations finished
 * before the workers stopped, so that a caller can report them. Best effort: a failure to build
 * it leaves the exception as it was. */
static void attach_partial(mm_run *run)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && !run->abort) {
        PyObject *counts = histogram_dict(run);
        PyObject *partial = counts == NULL ? NULL
            : Py_BuildValue("(NKds)", counts, (unsigned long long)run->done,
                            run->ended_at - run->started_at, "signal");
        if (partial == NULL || PyObject_SetAttrString(value, "partial", partial) < 0)
            PyErr_Clear();
        Py_XDECREF(partial);
    }
    PyErr_Restore(type, value, tb);
}

PyDoc_STRVAR(execute_doc,
"execute(threads, init, nshown, ctl, spread, batch, iterations, seconds, cpus, await_budget,\n"
"        oversubscribe, seed, user=None) -> (counts, iterations_done, elapsed, stop)\n\n"
"Run a compiled program (see stressmm/runtime/compile.py). threads: one (code, file, nregs,\n"
"delay_lo, delay_hi) per program thread; init: initial value of each word of an instance, of\n"
"which the first nshown are the outcome's variables; ctl: the word index of the control\n"
"block (abort, epoch, one state per thread); iterations 0 means run until `seconds`; cpus:\n"
"one CPU per thread, or None for unpinned threads. counts maps (registers..., variables...,\n"
"status) tuples to counts, status 0 ok, 1-2 timeout, 3 deadlock, 4 panic; stop is why the\n"
"run ended: 'done', 'deadline', 'table-full' (too many distinct outcomes: call again).\n"
"user: (address of a stressmm_impl table, ((word, kind, capacity), ...) per primitive\n"
"object) to run the user's primitives (stressmm/include/stressmm_impl.h) in place of the\n"
"built-in ones; see stressmm/runtime/cimpl.py.");

static PyObject *native_execute(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *threads_obj, *init_obj, *cpus_obj, *user_obj = Py_None;
    int nshown, ctl, spread, batch, oversubscribe;
    unsigned long long iterations, seed;
    double seconds;
    long await_budget;
    if (!PyArg_ParseTuple(args, "OOiipiKdOlpK|O:execute", &threads_obj, &init_obj, &nshown, &ctl,
                          &spread, &batch, &iterations, &seconds, &cpus_obj, &await_budget,
                          &oversubscribe, &seed, &user_obj))
        return NULL;

    mm_run run;
    memset(&run, 0, sizeof run);
    mm_insn *codes[MM_MAX_THREADS] = {0};
    static _Thread_local int64_t init[MM_MAX_WORDS];
    PyObject *threads = NULL, *initseq = NULL, *cpus = NULL, *result = NULL;

    threads = PySequence_Fast(threads_obj, "execute: threads must be a sequence");
    initseq = PySequence_Fast(init_obj, "execute: init must be a sequence of ints");
    if (threads == NULL || initseq == NULL)
        goto done;
    Py_ssize_t nthreads = PySequence_Fast_GET_SIZE(threads);
    Py_ssize_t nvars = PySequence_Fast_GET_SIZE(initseq);
    if (nthreads < 1 || nthreads > MM_MAX_THREADS || nvars > MM_MAX_WORDS || batch < 1
        || batch > MM_MAX_BATCH || await_budget < 1 || seconds < 0
        || (iterations == 0 && seconds <= 0)) {
        PyErr_Format(PyExc_ValueError, "execute: need 1..%d threads (got %zd), at most %d "
                     "words (got %zd), batch in 1..%d (got %d), a positive await budget, "
                     "and iterations > 0 or seconds > 0", MM_MAX_THREADS, nthreads, MM_MAX_WORDS,
                     nvars, MM_MAX_BATCH, batch);
        goto done;
    }
    if (nshown < 0 || nshown > MM_MAX_VARS || nshown > ctl || ctl < 0
        || (Py_ssize_t)ctl + 2 + nthreads > nvars) {
        PyErr_Format(PyExc_ValueError, "execute: %d outcome variables and a control block at "
                     "word %d (%zd words for %zd threads) do not fit in %zd words", nshown, ctl,
                     2 + nthreads, nthreads, nvars);
        goto done;
    }
    for (Py_ssize_t v = 0; v < nvars; v++) {
        long long x;
        if (get_int(PySequence_Fast_GET_ITEM(initseq, v), INT64_MIN, INT64_MAX,
                    "an initial value", &x) < 0)
            goto done;
        init[v] = (int64_t)x;
    }
    if (cpus_obj != Py_None) {
        cpus = PySequence_Fast(cpus_obj, "execute: cpus must be a sequence of ints or None");
        if (cpus == NULL)
            goto done;
        if (PySequence_Fast_GET_SIZE(cpus) != nthreads) {
            PyErr_Format(PyExc_ValueError, "execute: %zd cpus for %zd threads",
                         PySequence_Fast_GET_SIZE(cpus), nthreads);
            goto done;
        }
    }

    run.nthreads = (int)nthreads;
    run.nvars = (int)nvars;
    run.nshown = nshown;
    run.ctl = ctl;
    run.batch = batch;
    run.loc_stride = spread ? MM_LINE_WORDS : 1;
    run.inst_stride = nvars ? (int)nvars * run.loc_stride : 1;
    run.init = init;
    run.iterations = iterations;
    run.await_budget = await_budget;
    run.oversubscribe = oversubscribe;
    run.threads = aligned_alloc(MM_LINE, (size_t)nthreads * sizeof *run.threads);
    if (run.threads != NULL)
        memset(run.threads, 0, (size_t)nthreads * sizeof *run.threads);
    size_t mem_words = (size_t)batch * (size_t)run.inst_stride;
    size_t mem_bytes = (mem_words * sizeof(int64_t) + MM_LINE - 1) / MM_LINE * MM_LINE;
    run.mem = aligned_alloc(MM_LINE, mem_bytes);
    size_t flag_bytes = ((size_t)nthreads * (size_t)batch * sizeof(int) + MM_LINE - 1) / MM_LINE * MM_LINE;
    run.flags = aligned_alloc(MM_LINE, flag_bytes);
    if (run.threads == NULL || run.mem == NULL || run.flags == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(run.flags, 0, flag_bytes);
    memset(run.mem, 0, mem_bytes);
    for (int k = 0; k < batch; k++)
        for (int v = 0; v < run.nvars; v++)
            run.mem[(size_t)k * (size_t)run.inst_stride + (size_t)v * (size_t)run.loc_stride] =
                init[v];

    int key_width = 1;   /* the status */
    for (int t = 0; t < run.nthreads; t++) {
        mm_thread *th = &run.threads[t];
        th->run = &run;
        th->tid = t;
        th->cpu = -1;
        if (load_thread(PySequence_Fast_GET_ITEM(threads, t), th, t, run.nvars, &codes[t]) < 0)
            goto done;
        for (int i = 0; i < th->ncode; i++)   /* variable index -> word offset */
            codes[t][i].loc *= run.loc_stride;
        th->code = codes[t];
        for (int i = 0; i < th->ncode; i++)
            if (codes[t][i].code >= OP_FIRST_SYNC)
                run.has_sync = true;
            else if (codes[t][i].code >= OP_AWAIT_PLAIN && codes[t][i].code <= OP_AWAIT_SEQ_CST)
                run.has_await = true;
        if (cpus != NULL) {
            long long c;
            if (get_int(PySequence_Fast_GET_ITEM(cpus, t), 0, CPU_SETSIZE - 1, "a cpu", &c) < 0)
                goto done;
            th->cpu = (int)c;
        }
        /* each thread's outputs on lines of their own (see mm_thread) */
        size_t out_bytes = ((size_t)batch * (size_t)(th->nregs + 1) * sizeof *th->out + MM_LINE - 1)
                           / MM_LINE * MM_LINE;
        th->out = aligned_alloc(MM_LINE, out_bytes);
        if (th->out != NULL)
            memset(th->out, 0, out_bytes);
        if (th->out == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        th->rng = rng_seed(seed, t);
        key_width += th->nregs;
    }
    key_width += run.nshown;
    if (key_width > MM_MAX_KEY) {
        PyErr_Format(PyExc_ValueError, "execute: an outcome of %d words is more than %d",
                     key_width, MM_MAX_KEY);
        goto done;
    }
    run.key_width = key_width;
    if (user_obj != Py_None) {
        if (load_user(user_obj, &run, seed) < 0)
            goto done;
        set_active(&run);
    }
    for (int t = 0; t < run.nthreads; t++)
        if (table_init(&run.threads[t].table, key_width) < 0) {
            PyErr_NoMemory();
            goto done;
        }

    int failed_cpu = -1;
    run.deadline = seconds > 0 ? mm_now() + seconds : 0;
    int err = run_start(&run, &failed_cpu);
    if (err) {
        errno = err;
        if (err == EINVAL && failed_cpu >= 0)
            PyErr_Format(PyExc_OSError, "execute: cannot pin a thread to CPU %d (not available "
                         "to this process?)", failed_cpu);
        else
            PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (supervise(&run) < 0) {
        attach_partial(&run);
        goto done;   /* the exception set by the signal handler propagates */
    }
    if (run.abort) {
        PyErr_Format(PyExc_RuntimeError, "execute: a program thread did not reach the barrier "
                     "within %d s (machine overloaded, or threads descheduled); the run was "
                     "abandoned", (int)MM_STUCK_SECONDS);
        goto done;
    }
    PyObject *counts = histogram_dict(&run);
    if (counts != NULL)
        result = Py_BuildValue("(NKds)", counts, (unsigned long long)run.done,
                               run.ended_at - run.started_at, STOP_NAMES[run.stop]);
done:
    run_free(&run, codes);
    Py_XDECREF(threads);
    Py_XDECREF(initseq);
    Py_XDECREF(cpus);
    return result;
}

PyDoc_STRVAR(impl_check_doc,
"impl_check(address) -> (name, kinds)\n\n"
"Check the stressmm_impl table at `address` (what a user's stressmm_impl_v1() returned):\n"
"its name and the kinds it provides, or ValueError saying what is wrong with it.");

static PyObject *native_impl_check(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned long long address;
    if (!PyArg_ParseTuple(args, "K:impl_check", &address))
        return NULL;
    const stressmm_impl *impl = (const stressmm_impl *)(uintptr_t)address;
    const char *bad = user_check(impl);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    static const char *const names[MM_K_COUNT] = {"mutex", "rwmutex", "channel", "once",
                                                  "waitgroup"};
    PyObject *kinds = PyTuple_New(0);
    for (int k = 0; kinds != NULL && k < MM_K_COUNT; k++) {
        if (user_kind_size(impl, k) == 0)
            continue;
        PyObject *more = Py_BuildValue("(s)", names[k]);
        PyObject *joined = more ? PySequence_Concat(kinds, more) : NULL;
        Py_XDECREF(more);
        Py_SETREF(kinds, joined);
    }
    if (kinds == NULL)
        return NULL;
    return Py_BuildValue("(zN)", impl->name, kinds);
}

PyDoc_STRVAR(impl_watch_doc,
"impl_watch() -> (seconds, thread)\n\n"
"The longest call of a user primitive now running (from any thread of this process), and the\n"
"program thread making it; (0.0, -1) when none runs.");

static PyObject *native_impl_watch(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    double longest = 0;
    int thread = -1;
    pthread_mutex_lock(&active_lock);
    if (active_run != NULL && active_run->user != NULL)
        longest = user_longest_call(active_run->user, active_run->nthreads, &thread);
    pthread_mutex_unlock(&active_lock);
    return Py_BuildValue("(di)", longest, thread);
}

static PyMethodDef module_methods[] = {
    {"impl_watch", native_impl_watch, METH_NOARGS, impl_watch_doc},
    {"impl_check", native_impl_check, METH_VARARGS, impl_check_doc},
    {"execute", native_execute, METH_VARARGS, execute_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "stressmm._native",
    .m_doc = "The native runtime of stressmm: AtomicCell and the litmus executor.",
    .m_size = -1,
    .m_methods = module_methods,
};

static int add_opcodes(PyObject *m)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return -1;
#define MM_OPCODE_ITEM(name)                                                                \
    {                                                                                       \
        PyObject *v = PyLong_FromLong(OP_##name);                                           \
        if (v == NULL || PyDict_SetItemString(d, #name, v) < 0) {                           \
            Py_XDECREF(v);                                                                  \
            Py_DECREF(d);                                                                   \
            return -1;                                                                      \
        }                                                                                   \
        Py_DECREF(v);                                                                       \
    }
    MM_OPCODES(MM_OPCODE_ITEM)
#undef MM_OPCODE_ITEM
    if (PyModule_AddObject(m, "OPCODES", d) < 0) {
        Py_DECREF(d);
        return -1;
    }
    return 0;
}

/* The digest of the C sources this was built from (setup.py; see runtime/native_sources.py). */
#ifndef MM_SOURCE_DIGEST
#define MM_SOURCE_DIGEST ""
#endif

PyMODINIT_FUNC PyInit__native(void)
{
    if (PyType_Ready(&AtomicCellType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AtomicCellType);
    if (PyModule_AddObject(m, "AtomicCell", (PyObject *)&AtomicCellType) < 0) {
        Py_DECREF(&AtomicCellType);
        Py_DECREF(m);
        return NULL;
    }
    if (add_opcodes(m) < 0 || PyModule_AddIntConstant(m, "INSN_FIELDS", MM_INSN_FIELDS) < 0
        || PyModule_AddIntConstant(m, "MAX_FILE", MM_MAX_FILE) < 0
        || PyModule_AddIntConstant(m, "MAX_OPS", MM_MAX_OPS) < 0
        || PyModule_AddIntConstant(m, "MAX_WORDS", MM_MAX_WORDS) < 0
        || PyModule_AddIntConstant(m, "MAX_CAPACITY", MM_MAX_CAPACITY) < 0
        || PyModule_AddStringConstant(m, "SOURCE_DIGEST", MM_SOURCE_DIGEST) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
