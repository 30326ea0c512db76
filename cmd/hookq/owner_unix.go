//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// ownerOf is the uid that owns fi, and whether the platform says.
func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// effectiveUID is the process's effective uid (-1 where there is none).
func effectiveUID() int { return os.Geteuid() }
