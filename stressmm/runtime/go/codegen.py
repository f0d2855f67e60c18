"""Litmus programs as Go source: one `main` package holding many tests and a litmus7-like harness.

    >>> from stressmm.syntax import parse
    >>> [mp] = parse('''litmus MP
    ... var data int
    ... var ready atomic int
    ... P0:
    ...   data = 1
    ...   atomic.Store(&ready, 1)
    ... P1:
    ...   for atomic.Load(&ready) == 0 {}
    ...   r0 = data
    ... ''')
    >>> gen = generate([mp])
    >>> lines = gen.source.splitlines()
    >>> start = lines.index("func (s *mpState) p0() {")
    >>> print("\\n".join(lines[start:start + 4]).expandtabs(4))
    func (s *mpState) p0() {
        s.data = 1                       // data = 1
        atomic.StoreInt64(&s.ready, 1)   // atomic.Store(&ready, 1)
    }
    >>> gen.tests[0].op_at(start + 3)      # line numbers count from 1: the atomic store
    (0, 1)

Each test is a state struct (its variables as plain `int` fields or `int64` fields used only
through `sync/atomic`, its `sync.Mutex`, `sync.RWMutex`, `sync.Once`, `sync.WaitGroup` and
channels), one method per program thread whose statements are the litmus ops, one per line,
and a constructor that makes fresh state for every iteration. The accesses are real Go
statements, so the compiler's transformations are part of what is tested (`for s.ready == 0
{}` may be hoisted). A channel whose received values nobody keeps is a `chan struct{}`.

Mapping decisions (also listed in docs/go-backends.md):

- Go's atomics are sequentially consistent only: an op with another order runs as seq_cst.
- `fence(...)` becomes a comment: Go has no fence, and the go model treats fences as no-ops.
- A receive's ok flag and a CAS's success are 1/0 registers (`b2i`).

The harness (in the same file) runs one test, chosen by `-test K`: one worker goroutine per
program thread, locked to its OS thread and pinned to its CPU (`sched_setaffinity` through
`syscall.RawSyscall`), all released together by a spinning start barrier every iteration.
Thread 0 leads: it makes fresh state, starts a round, runs its own body and counts the
outcome; the others follow. Threads wait for each other spinning, then sleeping. With
`-deadlock-ms N` (gc), a round running past N ms is looked at: when every thread still in it
is blocked in a channel op or sync primitive (`runtime.Stack`), the process counts a deadlock
and exits with status 6. Without it, Go's own "all goroutines are asleep" check sees a
deadlock (no timer is pending while threads run; it does not fire under -race).
It prints JSON lines on stdout: `{"ready": ...}` first, then deltas of the outcome counts at
least every 100 ms and whenever a new outcome appears, then `{"end": true}`. A panic in a
thread is recovered and counted; when the round has not finished half a second later (the
other threads blocked for ever) the process prints the panic and exits with status 3.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ...program import (Await, Chan, Close, Fence, Load, Lock, Mutex, Once, OnceDo, Order,
                        Program, RLock, RUnlock, Recv, Rmw, RmwOp, Send, Store, Sum, Unlock, Var,
                        WaitGroup, WgAdd, WgDone, WgWait)
from ...syntax import print_op
from .. import RuntimeUsageError

__all__ = ["generate", "Generated", "GoTest", "GoCodegenError"]

GO_KEYWORDS = frozenset("""break default func interface select case defer go map struct chan
else goto package switch const fallthrough if range type continue for import return var""".split())
GO_PREDECLARED = frozenset("""any bool byte comparable complex64 complex128 error float32 float64
int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota
nil append cap close complex copy delete imag len make new panic print println real recover""".split())
# Names the generated code itself uses inside a thread method.
_RESERVED = frozenset({"s", "v", "ok", "atomic", "sync", "b2i"})
_COMMENT_COL = 36


class GoCodegenError(RuntimeUsageError):
    """A program the Go backends cannot express; the message names the op."""


@dataclass(frozen=True)
class GoTest:
    """One test of a generated file: its index (the `-test` argument), its Go prefix, the
    outcome key layout (registers (thread, reg) then variables) and, for each source line of a
    thread method, the litmus op it runs as (thread, index of the op in `walk_ops` order)."""

    index: int
    prefix: str
    program: Program
    regs: tuple
    vars: tuple
    lines: tuple          # ((go line, thread, op index), ...)
    notes: tuple          # what was mapped how (orders run as seq_cst, fences...)

    def op_at(self, line: int) -> Optional[tuple]:
        """(thread, op index) of the litmus op that Go source line `line` runs, or None."""
        for ln, t, i in self.lines:
            if ln == line:
                return (t, i)
        return None


@dataclass(frozen=True)
class Generated:
    source: str
    tests: tuple


def _go_name(name: str, taken: set) -> str:
    out = name
    while out in GO_KEYWORDS or out in GO_PREDECLARED or out in _RESERVED or out in taken:
        out += "_"
    taken.add(out)
    return out


def _prefix(name: str, taken: set) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name) or ["test"]
    base = words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])
    if base[0].isdigit():
        base = "t" + base
    out, k = base, 2
    while out in taken or out in GO_KEYWORDS or out in GO_PREDECLARED:
        out, k = f"{base}{k}", k + 1
    taken.add(out)
    return out


def _valueless_chans(program: Program) -> frozenset:
    """Channels whose received values no op keeps: they become `chan struct{}`."""
    kept = {op.chan for _, op in program.ops() if isinstance(op, Recv) and op.reg is not None}
    return frozenset(d.name for d in program.decls if isinstance(d, Chan) and d.name not in kept)


class _Thread:
    """Emits one thread method: a list of (code, litmus text, op index) lines."""

    def __init__(self, gen: "_Test", t: int):
        self.gen, self.t = gen, t
        self.rows: list = []
        self.index = 0
        self.needs_v = self.needs_ok = False

    def reg(self, r: str) -> str:
        return self.gen.regname[(self.t, r)]

    def val(self, v, typ: str = "") -> str:
        if isinstance(v, int):
            return str(v)
        if isinstance(v, Sum):
            total = f"{self.reg(v.reg)} + {v.const}" if v.const >= 0 else \
                f"{self.reg(v.reg)} - {-v.const}"
            return f"{typ}({total})" if typ else f"({total})"
        return f"{typ}({self.reg(v)})" if typ else self.reg(v)

    def emit(self, code: str, text: str, idx: Optional[int], indent: int = 1) -> None:
        self.rows.append(("\t" * indent + code, text, idx))

    def ops(self, ops: tuple, indent: int = 1) -> None:
        for op in ops:
            idx = self.index
            self.index += 1
            text = print_op(op) if not isinstance(op, OnceDo) else f"{op.once}.Do {{"
            if isinstance(op, OnceDo):
                self.emit(f"s.{self.gen.field[op.once]}.Do(func() {{", text, idx, indent)
                self.ops(op.body, indent + 1)
                self.emit("})", "", None, indent)
                continue
            for k, code in enumerate(self.code(op)):
                self.emit(code, text if k == 0 else "", idx, indent)

    def code(self, op) -> list:
        f = self.gen.field
        if isinstance(op, (Load, Store, Rmw, Await)):
            if op.order not in (None, Order.SEQ_CST):
                self.gen.note(f"{op.order} atomics run as seq_cst (Go has only seq_cst atomics)")
        # A plain access of an atomic variable (its field is an int64 that sync/atomic also
        # reads and writes) is an ordinary Go read or write of that field.
        wide = isinstance(op, (Load, Store)) and self.gen.program.decl(op.loc).atomic
        if isinstance(op, Load):
            if op.order is None:
                read = f"int(s.{f[op.loc]})" if wide else f"s.{f[op.loc]}"
                return [f"{self.reg(op.reg)} = {read}"]
            return [f"{self.reg(op.reg)} = int(atomic.LoadInt64(&s.{f[op.loc]}))"]
        if isinstance(op, Store):
            if op.order is None:
                return [f"s.{f[op.loc]} = {self.val(op.value, 'int64' if wide else '')}"]
            return [f"atomic.StoreInt64(&s.{f[op.loc]}, {self.val(op.value, 'int64')})"]
        if isinstance(op, Rmw):
            loc, arg = f"&s.{f[op.loc]}", self.val(op.operand, "int64")
            if op.op == RmwOp.CAS:
                call = f"atomic.CompareAndSwapInt64({loc}, {op.expected}, {arg})"
                res = f"b2i({call})"
            elif op.op == RmwOp.FETCH_ADD:    # the old value: Go's Add returns the new one
                call = f"atomic.AddInt64({loc}, {arg})"
                res = f"int({call} - {arg})"
            else:
                call = f"atomic.{'AddInt64' if op.op == RmwOp.ADD else 'SwapInt64'}({loc}, {arg})"
                res = f"int({call})"
            return [f"{self.reg(op.reg)} = {res}" if op.reg else call]
        if isinstance(op, Fence):
            self.gen.note(f"fence({op.order}) is not emitted: Go has no fence "
                          "(its atomics are seq_cst; the go model treats fences as no-ops)")
            return [f"// fence({op.order}): Go has no fence"]
        if isinstance(op, Await):
            cmp = "!=" if op.until_equal else "=="
            read = (f"s.{f[op.loc]}" if op.order is None
                    else f"atomic.LoadInt64(&s.{f[op.loc]})")
            return [f"for {read} {cmp} {op.value} {{", "}"]
        if isinstance(op, (Lock, Unlock, RLock, RUnlock)):
            return [f"s.{f[op.mutex]}.{type(op).__name__}()"]
        if isinstance(op, Send):
            ch = f"s.{f[op.chan]}"
            if op.chan in self.gen.valueless:
                return [f"{ch} <- struct{{}}{{}}"]
            return [f"{ch} <- {self.val(op.value)}"]
        if isinstance(op, Recv):
            ch = f"s.{f[op.chan]}"
            if op.ok is None:
                return [f"{self.reg(op.reg)} = <-{ch}" if op.reg else f"<-{ch}"]
            self.needs_ok = True
            if op.reg is None:
                return [f"_, ok = <-{ch}", f"{self.reg(op.ok)} = b2i(ok)"]
            self.needs_v = True
            return [f"v, ok = <-{ch}", f"{self.reg(op.reg)}, {self.reg(op.ok)} = v, b2i(ok)"]
        if isinstance(op, Close):
            return [f"close(s.{f[op.chan]})"]
        if isinstance(op, WgAdd):
            return [f"s.{f[op.wg]}.Add({op.delta})"]
        if isinstance(op, WgDone):
            return [f"s.{f[op.wg]}.Done()"]
        if isinstance(op, WgWait):
            return [f"s.{f[op.wg]}.Wait()"]
        raise GoCodegenError(f"{self.gen.program.name}: P{self.t}: the Go backends cannot "
                             f"express the op {op!r}")


class _Test:
    """The Go code of one program."""

    def __init__(self, program: Program, index: int, prefix: str):
        self.program, self.index, self.prefix = program, index, prefix
        taken: set = set()
        self.field = {d.name: _go_name(d.name, taken) for d in program.decls}
        self.regname = {}
        for t in range(len(program.threads)):
            taken_t: set = set()
            for r in program.registers(t):
                self.regname[(t, r)] = _go_name(r, taken_t)
        self.valueless = _valueless_chans(program)
        self.notes: list = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def state_type(self) -> list:
        p, out = self.program, []
        desc = f": {p.description}" if p.description else ""
        out.append(f"// {self.prefix}State is the shared state of litmus test {p.name}{desc}.")
        out.append(f"type {self.prefix}State struct {{")
        for d in p.decls:
            name = self.field[d.name]
            if isinstance(d, Var):
                out.append(f"\t{name} {'int64 // atomic' if d.atomic else 'int'}")
            elif isinstance(d, Mutex):
                out.append(f"\t{name} sync.{'RWMutex' if d.rw else 'Mutex'}")
            elif isinstance(d, Chan):
                elem = "struct{}" if d.name in self.valueless else "int"
                out.append(f"\t{name} chan {elem}")
            elif isinstance(d, Once):
                out.append(f"\t{name} sync.Once")
            elif isinstance(d, WaitGroup):
                out.append(f"\t{name} sync.WaitGroup")
        out.append("}")
        return out

    def constructor(self) -> list:
        p, pre = self.program, self.prefix
        inits = []
        for d in p.decls:
            if isinstance(d, Var) and d.init:
                inits.append(f"{self.field[d.name]}: {d.init}")
            elif isinstance(d, Chan):
                elem = "struct{}" if d.name in self.valueless else "int"
                cap = f", {d.capacity}" if d.capacity else ""
                inits.append(f"{self.field[d.name]}: make(chan {elem}{cap})")
        out = [f"// new{pre[0].upper() + pre[1:]} makes fresh state for one iteration of {p.name}.",
               f"func new{pre[0].upper() + pre[1:]}() iteration {{",
               f"\ts := &{pre}State{{{', '.join(inits)}}}"]
        regs = [(t, r) for t in range(len(p.threads)) for r in p.registers(t)]
        for t in range(len(p.threads)):
            names = [f"p{t}{self.regname[(t, r)]}" for r in p.registers(t)]
            if names:
                out.append(f"\tvar {', '.join(names)} int")
        out.append("\treturn iteration{")
        out.append("\t\tthreads: []func(){")
        for t in range(len(p.threads)):
            names = [f"p{t}{self.regname[(t, r)]}" for r in p.registers(t)]
            call = f"s.p{t}()"
            out.append(f"\t\t\tfunc() {{ {', '.join(names)} = {call} }}," if names
                       else f"\t\t\ts.p{t},")
        out.append("\t\t},")
        finals = [f"p{t}{self.regname[(t, r)]}" for t, r in regs]
        for d in p.vars:
            finals.append(f"int(s.{self.field[d.name]})" if d.atomic else f"s.{self.field[d.name]}")
        out.append(f"\t\toutcome: func() []int {{ return []int{{{', '.join(finals)}}} }},")
        out.append("\t}")
        out.append("}")
        return out

    def methods(self, first_line: int) -> tuple:
        """The thread methods as lines, and ((go line, thread, op index), ...)."""
        out, lines = [], []
        for t, th in enumerate(self.program.threads):
            em = _Thread(self, t)
            em.ops(th.ops)
            regs = [self.regname[(t, r)] for r in self.program.registers(t)]
            res = f" ({', '.join(regs)} int)" if regs else ""
            out.append(f"func (s *{self.prefix}State) p{t}(){res} {{")
            if em.needs_v:
                out.append("\tvar v int")
            if em.needs_ok:
                out.append("\tvar ok bool")
            width = max([len(code.expandtabs(8)) for code, text, _ in em.rows if text] + [0])
            pad = max(_COMMENT_COL, width + 3)
            for code, text, idx in em.rows:
                if idx is not None:
                    lines.append((first_line + len(out), t, idx))
                shown = code.expandtabs(8)
                out.append(code + (" " * (pad - len(shown)) + "// " + text if text else ""))
            if regs:
                out.append("\treturn")
            out.append("}")
            out.append("")
        return out, tuple(lines)


_HARNESS = '''
// iteration is one fresh instance of a test: one body per thread, and the outcome (every
// register, then every variable) to read once all of them have returned.
type iteration struct {
	threads []func()
	outcome func() []int
}

type test struct {
	name    string
	threads int
	fresh   func() iteration
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pin locks the calling goroutine to its OS thread and binds that thread to cpu (< 0: unpinned).
func pin(cpu int) error {
	runtime.LockOSThread()
	if cpu < 0 {
		return nil
	}
	var mask [16]uint64
	mask[cpu/64] |= 1 << uint(cpu%64)
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0,
		uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// barrier releases its n goroutines together, once per round.
type barrier struct {
	n, count, round int32
}

func (b *barrier) wait() {
	round := atomic.LoadInt32(&b.round)
	if atomic.AddInt32(&b.count, 1) == b.n {
		atomic.StoreInt32(&b.count, 0)
		atomic.StoreInt32(&b.round, round+1)
		return
	}
	for i := 1; atomic.LoadInt32(&b.round) == round; i++ {
		if i%4096 == 0 {
			runtime.Gosched() // a busy machine: let the late thread run
		}
	}
}

var sink int32

// spin waits about n steps (the schedule's per-iteration delay).
func spin(n uint64) {
	for i := uint64(0); i < n; i++ {
		atomic.LoadInt32(&sink)
	}
}

// call runs one thread body, turning a panic into its message.
func call(body func()) (panicked interface{}) {
	defer func() { panicked = recover() }()
	body()
	return nil
}

type delay struct{ lo, hi uint64 }

// parker lets a goroutine spin on a condition for a while, then sleep until notified:
// a sleeping goroutine is one a deadlock check can see.
type parker struct {
	parked int32
	spins  int // before sleeping
	wake   chan struct{}
}

// await returns once ready() holds.
func (p *parker) await(ready func() bool) {
	for spins := 1; !ready(); spins++ {
		if spins < p.spins {
			continue
		}
		atomic.StoreInt32(&p.parked, 1)
		if !ready() {
			<-p.wake
		}
		atomic.StoreInt32(&p.parked, 0)
		spins = 0
	}
}

// notify wakes p if it sleeps (a spare wake-up only makes it look again).
func (p *parker) notify() {
	if atomic.LoadInt32(&p.parked) == 1 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// harness runs one test: thread 0 leads (makes fresh state, counts outcomes), the others
// follow; each round every thread runs its body once.
type harness struct {
	t        test
	round    int32
	finished int32
	bodies   []func()
	parkers  []*parker
	start    barrier
	mu       sync.Mutex // guards panicMsg and settled
	panicMsg string     // the first panic of this round
	settled  int32      // the last round the leader counted
}

func newHarness(t test) *harness {
	h := &harness{t: t, start: barrier{n: int32(t.threads)}}
	for i := 0; i < t.threads; i++ {
		// The leader sleeps soon: a goroutine its thread body woke may be queued on its P.
		spins := 1 << 14
		if i == 0 {
			spins = 1 << 9
		}
		h.parkers = append(h.parkers, &parker{spins: spins, wake: make(chan struct{}, 1)})
	}
	return h
}

// step runs thread i's body of this round, after the start barrier and the thread's delay.
func (h *harness) step(i int, d delay, rng *uint64) {
	n := d.lo
	if d.hi > d.lo {
		*rng ^= *rng << 13
		*rng ^= *rng >> 7
		*rng ^= *rng << 17
		n += *rng % (d.hi - d.lo + 1)
	}
	h.start.wait()
	spin(n)
	if p := call(h.bodies[i]); p != nil {
		h.mu.Lock()
		first := h.panicMsg == ""
		if first {
			h.panicMsg = fmt.Sprint(p)
		}
		h.mu.Unlock()
		if first {
			go h.watch(atomic.LoadInt32(&h.round))
		}
	}
	if atomic.AddInt32(&h.finished, 1) == int32(h.t.threads) {
		h.parkers[0].notify()
	}
}

// watch ends the process when a round that panicked has not finished half a second later:
// the other threads may be blocked for ever (in Go, a panic ends the program).
func (h *harness) watch(round int32) {
	time.Sleep(500 * time.Millisecond)
	h.mu.Lock()
	if h.settled >= round {
		h.mu.Unlock()
		return
	}
	emit(report{Done: 1, Panics: map[string]int{h.panicMsg: 1}})
	os.Exit(exitPanicked) // still holding h.mu: the leader counts nothing more
}

// Exit statuses the runner reads: a recovered panic left threads blocked (3), every thread
// still in the round is blocked for ever (6).
const (
	exitPanicked   = 3
	exitDeadlocked = 6
)

// blockedStates are the goroutine states (runtime.Stack's "[state]") of a goroutine blocked
// in a channel op or a sync primitive: only another goroutine can wake it.
var blockedStates = map[string]bool{
	"chan receive": true, "chan send": true, "chan receive (nil chan)": true,
	"chan send (nil chan)": true, "select": true, "select (no cases)": true,
	"semacquire": true, "sync.Mutex.Lock": true, "sync.RWMutex.Lock": true,
	"sync.RWMutex.RLock": true, "sync.WaitGroup.Wait": true, "sync.Cond.Wait": true,
}

// deadlocked says, from runtime.Stack(all) (taken with the world stopped, so one consistent
// picture), whether the round is stuck for ever: at least one goroutine is in a thread body
// (a frame of call), and every goroutine in a step of the round is in its body and blocked in
// a channel op or sync primitive. A goroutine running, runnable (e.g. spinning on an await),
// in a syscall, or in the harness part of a step (barrier, delay, counting) means no.
func deadlocked(stacks string) (bool, []string) {
	var states []string
	for _, g := range strings.Split(stacks, "\\n\\n") {
		header := strings.SplitN(g, "\\n", 2)[0]
		open, shut := strings.Index(header, "["), strings.Index(header, "]")
		if !strings.HasPrefix(header, "goroutine ") || open < 0 || shut < open {
			continue
		}
		inStep, inBody := false, false
		for _, line := range strings.Split(g, "\\n")[1:] {
			inStep = inStep || strings.HasPrefix(line, "main.(*harness).step(") || line == "main.harness.step"
			inBody = inBody || strings.HasPrefix(line, "main.call(") || line == "main.call"
		}
		if !inStep {
			continue
		}
		state := strings.SplitN(header[open+1:shut], ",", 2)[0]
		if !inBody || !blockedStates[state] {
			return false, nil
		}
		states = append(states, state)
	}
	return len(states) > 0, states
}

// detectDeadlocks looks, once a round has run for `after` (and again every `after` while it
// runs), whether every thread still in it is blocked for ever; then it counts the iteration
// as a deadlock and ends the process. It is the harness's own check: Go's "all goroutines
// are asleep" does not fire under -race, nor while this goroutine's timer is pending.
func (h *harness) detectDeadlocks(after time.Duration) {
	tick := after / 4
	if tick < time.Millisecond {
		tick = time.Millisecond
	}
	buf := make([]byte, 1<<20)
	watched, since, looked := int32(0), time.Time{}, time.Time{}
	for {
		time.Sleep(tick)
		round := atomic.LoadInt32(&h.round)
		now := time.Now()
		h.mu.Lock()
		if h.settled == round || h.panicMsg != "" || round != watched {
			// no round running, a panic the watcher settles, or a new round
			watched, since = round, now
			h.mu.Unlock()
			continue
		}
		if now.Sub(since) < after || now.Sub(looked) < after {
			h.mu.Unlock()
			continue
		}
		looked = now
		n := runtime.Stack(buf, true)
		if stuck, states := deadlocked(string(buf[:n])); stuck {
			emit(report{Done: 1, Counts: map[string]int{"deadlock": 1}})
			fmt.Fprintf(os.Stderr, "stressmm: deadlock: every thread still running is blocked (%s)\\n",
				strings.Join(states, ", "))
			os.Exit(exitDeadlocked) // still holding h.mu: the leader counts nothing more
		}
		h.mu.Unlock()
	}
}

func pinOrExit(cpu int) {
	if err := pin(cpu); err != nil {
		fmt.Fprintf(os.Stderr, "stressmm: cannot pin a thread to CPU %d: %v\\n", cpu, err)
		os.Exit(4)
	}
}

func (h *harness) follow(i, cpu int, d delay, seed uint64, pinned *sync.WaitGroup) {
	pinOrExit(cpu)
	pinned.Done()
	rng := seed*2654435761 + 1
	seen := int32(0)
	newRound := func() bool { return atomic.LoadInt32(&h.round) != seen }
	for {
		h.parkers[i].await(newRound)
		seen = atomic.LoadInt32(&h.round)
		h.step(i, d, &rng)
	}
}

type report struct {
	Ready    bool           `json:"ready,omitempty"`
	Version  string         `json:"version,omitempty"`
	Compiler string         `json:"compiler,omitempty"`
	Done     int            `json:"done,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	Panics   map[string]int `json:"panics,omitempty"`
	End      bool           `json:"end,omitempty"`
}

var emitting sync.Mutex

func emit(r report) {
	line, _ := json.Marshal(r)
	emitting.Lock()
	os.Stdout.Write(append(line, '\\n'))
	emitting.Unlock()
}

// lead runs the test for the given iterations (or seconds) as thread 0, printing outcome
// counts as it goes.
func (h *harness) lead(cpu int, d delay, seed uint64, iterations int, seconds float64) {
	pinOrExit(cpu)
	rng := seed*2654435761 + 1
	n := int32(h.t.threads)
	allDone := func() bool { return atomic.LoadInt32(&h.finished) == n }
	began := time.Now()
	last := began
	pending := report{Counts: map[string]int{}, Panics: map[string]int{}}
	seen := map[string]bool{}
	key := make([]byte, 0, 64)
	for it := 0; ; it++ {
		if iterations > 0 && it >= iterations {
			break
		}
		if seconds > 0 && time.Since(began).Seconds() >= seconds {
			break
		}
		inst := h.t.fresh()
		h.bodies = inst.threads
		atomic.StoreInt32(&h.finished, 0)
		h.mu.Lock()
		h.panicMsg = ""
		h.mu.Unlock()
		atomic.AddInt32(&h.round, 1)
		for _, p := range h.parkers[1:] {
			p.notify()
		}
		h.step(0, d, &rng)
		h.parkers[0].await(allDone)
		h.mu.Lock()
		msg := h.panicMsg
		h.settled = atomic.LoadInt32(&h.round)
		h.mu.Unlock()
		pending.Done++
		fresh := false
		if msg != "" {
			pending.Panics[msg]++
			fresh = !seen[msg]
			seen[msg] = true
		} else {
			key = key[:0]
			for k, v := range inst.outcome() {
				if k > 0 {
					key = append(key, ',')
				}
				key = strconv.AppendInt(key, int64(v), 10)
			}
			pending.Counts[string(key)]++
			if !seen[string(key)] {
				fresh, seen[string(key)] = true, true
			}
		}
		// A new outcome is printed at once: a later deadlock or hang loses no kind of outcome.
		if now := time.Now(); fresh || now.Sub(last) >= 100*time.Millisecond {
			emit(pending)
			pending, last = report{Counts: map[string]int{}, Panics: map[string]int{}}, now
		}
	}
	emit(pending)
	emit(report{End: true})
}

// run runs t on one goroutine per thread, each locked to its OS thread and pinned to its CPU.
func run(t test, cpus []int, delays []delay, seed uint64, iterations int, seconds float64,
	deadlockAfter time.Duration) {
	runtime.GOMAXPROCS(t.threads + 1)
	emit(report{Ready: true, Version: runtime.Version(), Compiler: runtime.Compiler})
	h := newHarness(t)
	if deadlockAfter > 0 {
		go h.detectDeadlocks(deadlockAfter)
	}
	var pinned sync.WaitGroup // every follower on its CPU before the first round
	for i := 1; i < t.threads; i++ {
		pinned.Add(1)
		go h.follow(i, cpus[i], delays[i], seed+uint64(i), &pinned)
	}
	pinned.Wait()
	done := make(chan bool)
	go func() {
		h.lead(cpus[0], delays[0], seed, iterations, seconds)
		done <- true
	}()
	<-done
}

func main() {
	index := flag.Int("test", 0, "which test of this file to run")
	iterations := flag.Int("n", 0, "iterations (0: run for -seconds)")
	seconds := flag.Float64("seconds", 0, "seconds to run when -n is 0")
	cpuList := flag.String("cpus", "", "the CPU of each thread, comma-separated (empty: unpinned)")
	delayList := flag.String("delays", "", "lo:hi spin delay of each thread, comma-separated")
	seed := flag.Uint64("seed", 0, "seed of the delays")
	deadlockMs := flag.Int("deadlock-ms", 0, "look for a deadlock once a round ran this long (0: never)")
	flag.Parse()
	if *index < 0 || *index >= len(tests) {
		fmt.Fprintf(os.Stderr, "stressmm: no test %d in this file (it has %d)\\n", *index, len(tests))
		os.Exit(5)
	}
	t := tests[*index]
	cpus := make([]int, t.threads)
	delays := make([]delay, t.threads)
	for i := range cpus {
		cpus[i] = -1
	}
	for i, f := range strings.Split(*cpuList, ",") {
		if c, err := strconv.Atoi(f); err == nil && i < len(cpus) {
			cpus[i] = c
		}
	}
	for i, f := range strings.Split(*delayList, ",") {
		var d delay
		if n, _ := fmt.Sscanf(f, "%d:%d", &d.lo, &d.hi); n == 2 && i < len(delays) {
			delays[i] = d
		}
	}
	run(t, cpus, delays, *seed, *iterations, *seconds, time.Duration(*deadlockMs)*time.Millisecond)
}
'''

_IMPORTS = ["encoding/json", "flag", "fmt", "os", "runtime", "strconv", "strings", "sync",
            "sync/atomic", "syscall", "time", "unsafe"]


def generate(programs: list) -> Generated:
    """One Go source file running every program of `programs` (chosen with `-test K`, K its
    index). Raises GoCodegenError for a program the Go backends cannot express."""
    if not programs:
        raise GoCodegenError("no programs to generate Go code for")
    taken: set = set()
    gens = [_Test(p, k, _prefix(p.name, taken)) for k, p in enumerate(programs)]
    imports = list(_IMPORTS)
    out = ["// Code generated by stressmm from litmus tests. DO NOT EDIT.", "",
           "// Command litmus runs litmus tests on goroutines pinned to CPUs and prints the",
           "// outcome counts as JSON lines.",
           "package main", "", "import ("] + [f'\t"{i}"' for i in imports] + [")", ""]
    tests = []
    for g in gens:
        out += g.state_type() + [""]
        out += g.constructor() + [""]
        first = len(out) + 1
        body, lines = g.methods(first)
        out += body
        regs = tuple((t, r) for t in range(len(g.program.threads))
                     for r in g.program.registers(t))
        tests.append(GoTest(g.index, g.prefix, g.program, regs,
                            tuple(d.name for d in g.program.vars), lines, tuple(g.notes)))
    out.append("var tests = []test{")
    for g in gens:
        ctor = "new" + g.prefix[0].upper() + g.prefix[1:]
        out.append(f"\t{{name: {_go_string(g.program.name)}, "
                   f"threads: {len(g.program.threads)}, fresh: {ctor}}},")
    out.append("}")
    return Generated("\n".join(out) + "\n" + _HARNESS, tuple(tests))


def _go_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return "".join(out) + '"'
