package clustertest

import "syscall"

// sysProcAttr makes a node's process die with the test process (a test
// binary killed by its timeout leaves no node behind).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
