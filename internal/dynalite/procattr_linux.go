package dynalite

import "syscall"

// procAttr puts an attached server in its own process group, so Stop can
// kill everything it started, and has the kernel kill it when the parent
// dies (a test binary that panics or times out skips its cleanup).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
