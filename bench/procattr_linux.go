package bench

import "syscall"

// nodeProcAttr puts a node in its own process group, so a Ctrl-C at the
// terminal reaches only bench (which then stops the node itself), and has
// the kernel kill it if bench dies without stopping it.
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
