package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU time is the load-independent side of throughput: dynalite is a single Node.js process,
// so on a busy machine msgs/s swing with whatever else runs, while the server CPU each message
// costs stays put. Both are measured when the run started dynalite itself (its pid is known).

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on Linux.
const clockTick = 10 * time.Millisecond

// processCPU returns the user+system CPU time of pid from /proc, or false.
func processCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces: split after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * clockTick, true
}

// selfCPU returns the CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMark is the CPU clocks at the start of a measured phase.
type cpuMark struct {
	pid            int
	server, client time.Duration
	serverOK       bool
}

func (e *env) cpuStart() cpuMark {
	m := cpuMark{pid: e.serverPID, client: selfCPU()}
	m.server, m.serverOK = processCPU(e.serverPID)
	return m
}

// stop adds the CPU milliseconds per unit of the phase to r's figures.
func (m cpuMark) stop(r *Result) {
	client := selfCPU() - m.client
	r.figure("client_cpu_ms_per_"+r.Unit, r.Per(ms(client)))
	if s, ok := processCPU(m.pid); ok && m.serverOK {
		r.figure("server_cpu_ms_per_"+r.Unit, r.Per(ms(s-m.server)))
	}
}
