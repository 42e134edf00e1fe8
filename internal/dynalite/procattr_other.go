//go:build !linux

package dynalite

import "syscall"

// procAttr puts an attached server in its own process group, so Stop can
// kill everything it started.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
