//go:build unix

package main

import "syscall"

// restrictUmask makes every file and directory the process creates from
// now on private to its user (0600 files, 0700 directories), whatever
// mode the code that creates it asks for: Pebble, bbolt, Raft snapshots.
func restrictUmask() { syscall.Umask(0o077) }
