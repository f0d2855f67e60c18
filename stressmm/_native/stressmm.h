/* Shared definitions of the stressmm._native extension. */
#ifndef STRESSMM_H
#define STRESSMM_H

#include <stdbool.h>
#include <stdint.h>

/* C11 memory orders, in the order of stressmm.program.Order. */
typedef enum {
    MM_RELAXED = 0,
    MM_ACQUIRE = 1,
    MM_RELEASE = 2,
    MM_ACQ_REL = 3,
    MM_SEQ_CST = 4,
    MM_ORDER_COUNT = 5
} mm_order;

/* Opcodes of the executor: an operation and its memory order fused into one small int, so
 * the hot loop dispatches with one switch whose arms use constant orders. The names are
 * exported to Python as stressmm._native.OPCODES (stressmm/runtime/compile.py uses them).
 * MUT_* are the deliberately broken variants ("mutants"), selected when a program is compiled. */
#define MM_OPCODES(X)                                                                         \
    X(LOAD_PLAIN) X(LOAD_RELAXED) X(LOAD_ACQUIRE) X(LOAD_SEQ_CST)                             \
    X(STORE_PLAIN) X(STORE_RELAXED) X(STORE_RELEASE) X(STORE_SEQ_CST)                         \
    X(ADD_RELAXED) X(ADD_ACQUIRE) X(ADD_RELEASE) X(ADD_ACQ_REL) X(ADD_SEQ_CST)                \
    X(FADD_RELAXED) X(FADD_ACQUIRE) X(FADD_RELEASE) X(FADD_ACQ_REL) X(FADD_SEQ_CST)           \
    X(SWAP_RELAXED) X(SWAP_ACQUIRE) X(SWAP_RELEASE) X(SWAP_ACQ_REL) X(SWAP_SEQ_CST)           \
    X(CAS_RELAXED) X(CAS_ACQUIRE) X(CAS_RELEASE) X(CAS_ACQ_REL) X(CAS_SEQ_CST)                \
    X(FENCE_ACQUIRE) X(FENCE_RELEASE) X(FENCE_ACQ_REL) X(FENCE_SEQ_CST)                       \
    X(AWAIT_PLAIN) X(AWAIT_RELAXED) X(AWAIT_ACQUIRE) X(AWAIT_SEQ_CST) X(ADDI)                 \
    X(MUT_ADD_SPLIT) X(MUT_SWAP_SPLIT) X(MUT_CAS_ALWAYS)                                     \
    X(MUT_ADD_OLD) X(MUT_ADD_ABS) X(MUT_SWAP_NEW) X(MUT_CAS_SWAPPED) X(MUT_CAS_SPLIT)        \
    X(LOCK) X(UNLOCK) X(RLOCK) X(RUNLOCK) X(SEND) X(RECV) X(CLOSE)                            \
    X(ONCE_BEGIN) X(ONCE_END) X(WG_ADD) X(WG_WAIT)                                            \
    X(MUT_LOCK_TAS) X(MUT_UNLOCK_STORE) X(MUT_LOCK_BESIDE_READER) X(MUT_SEND_NONATOMIC)       \
    X(MUT_RECV_NONATOMIC) X(MUT_ONCE_TWICE) X(MUT_WG_WAIT_EARLY)                              \
    X(MUT_LOCK_RELOCK) X(MUT_UNLOCK_USED) X(MUT_UNLOCK_NO_WAKE)                               \
    X(MUT_RLOCK_CHECK_ADD) X(MUT_RLOCK_EXCLUSIVE) X(MUT_RUNLOCK_ALL)                          \
    X(MUT_RECV_DUP) X(MUT_RECV_LIFO) X(MUT_SEND_FULL_DROPS) X(MUT_RECV_EMPTY_ZERO)            \
    X(MUT_RECV_CLOSED_OK) X(MUT_CLOSE_DROPS) X(MUT_CLOSE_TWICE_OK) X(MUT_SEND_CLOSED_OK)      \
    X(MUT_CLOSE_NO_WAKE) X(MUT_ONCE_END_RESET) X(MUT_ONCE_DONE_EARLY) X(MUT_WG_ADD_UNIT)      \
    X(MUT_WG_ADD_NO_PANIC) X(MUT_WG_WAIT_ONE) X(MUT_WG_WAIT_NO_RECHECK)

/* Every synchronisation opcode, as case labels: the executor hands them all to sync_op. */
#define MM_SYNC_CASES                                                                         \
    case OP_LOCK: case OP_UNLOCK: case OP_RLOCK: case OP_RUNLOCK: case OP_SEND: case OP_RECV: \
    case OP_CLOSE: case OP_ONCE_BEGIN: case OP_ONCE_END: case OP_WG_ADD: case OP_WG_WAIT:     \
    case OP_MUT_LOCK_TAS: case OP_MUT_UNLOCK_STORE: case OP_MUT_LOCK_BESIDE_READER:           \
    case OP_MUT_SEND_NONATOMIC: case OP_MUT_RECV_NONATOMIC: case OP_MUT_ONCE_TWICE:           \
    case OP_MUT_WG_WAIT_EARLY: case OP_MUT_LOCK_RELOCK: case OP_MUT_UNLOCK_USED:              \
    case OP_MUT_UNLOCK_NO_WAKE: case OP_MUT_RLOCK_CHECK_ADD: case OP_MUT_RLOCK_EXCLUSIVE:     \
    case OP_MUT_RUNLOCK_ALL: case OP_MUT_RECV_DUP: case OP_MUT_RECV_LIFO:                     \
    case OP_MUT_SEND_FULL_DROPS: case OP_MUT_RECV_EMPTY_ZERO: case OP_MUT_RECV_CLOSED_OK:     \
    case OP_MUT_CLOSE_DROPS: case OP_MUT_CLOSE_TWICE_OK: case OP_MUT_SEND_CLOSED_OK:          \
    case OP_MUT_CLOSE_NO_WAKE: case OP_MUT_ONCE_END_RESET: case OP_MUT_ONCE_DONE_EARLY:       \
    case OP_MUT_WG_ADD_UNIT: case OP_MUT_WG_ADD_NO_PANIC: case OP_MUT_WG_WAIT_ONE:            \
    case OP_MUT_WG_WAIT_NO_RECHECK

/* The first synchronisation opcode: every opcode from here on is a Go primitive (sync.c). */
#define OP_FIRST_SYNC OP_LOCK

#define MM_OPCODE_ENUM(name) OP_##name,
typedef enum { MM_OPCODES(MM_OPCODE_ENUM) OP_COUNT } mm_opcode;
#undef MM_OPCODE_ENUM

/* One instruction, as compile.py lays it out: MM_INSN_FIELDS int32 per instruction.
 *   code  an mm_opcode
 *   loc   the variable index (turned into a memory offset by the executor)
 *   dst   the register-file slot that receives the result
 *   a     the slot of the value operand (stored value, addend, desired value, awaited value)
 *   b     CAS: the slot of the expected value; AWAIT: 1 = until equal, 0 = while equal
 * Go primitives (sync.c): loc is the first word of the object; SEND: a = the value slot,
 * b = the capacity; RECV: dst = the value register, a = the ok register, b = the capacity;
 * CLOSE: b = the capacity; ONCE_BEGIN: b = the instruction to jump to when the body is
 * skipped (just after the matching ONCE_END); WG_ADD: a = the slot of the delta.
 * Register file of a thread: its registers, then one scratch slot, then its constants. */
typedef struct {
    int32_t code, loc, dst, a, b;
} mm_insn;
#define MM_INSN_FIELDS 5

/* Limits (checked in Python first, and again in C). */
#define MM_MAX_THREADS 64
#define MM_MAX_VARS 256   /* variables in an outcome */
#define MM_MAX_WORDS 8192  /* words of a test instance: variables, control block, primitives */
#define MM_MAX_CAPACITY 64
#define MM_MAX_OPS 4096
#define MM_MAX_FILE 1024   /* register-file slots per thread (registers + scratch + constants) */
#define MM_MAX_BATCH 4096
#define MM_MAX_KEY 1024    /* outcome words: registers of all threads + variables + flags */

#endif
