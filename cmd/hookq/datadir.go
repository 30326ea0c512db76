package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// privateDataDir makes dir private before anything opens it: created 0700
// if missing; if it exists, every directory and file under it must belong
// to the effective user (else it fails: the owner could open it again at
// any time), and every one that other users may read or write loses its
// group and other bits (logged). With
// the umask of restrictUmask, what the node creates later is private too.
func privateDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	tightened := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // never follow (or chmod through) a link
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := ownedByUs(path, fi); err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, perm&^0o077); err != nil { // #nosec G122 -- the mode set never has group/other bits: an entry swapped for a link between the check and the chmod could at worst change owner bits of a file the node's user already owns, never open it to others
				return err
			}
			tightened++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("data dir: making it private: %w", err)
	}
	if tightened > 0 {
		log.Warn("data dir was open to other users: removed group and other permissions", "dir", dir, "paths", tightened)
	}
	return nil
}

// ownedByUs fails when path (described by fi) belongs to another user
// than the effective one. It applies to root too: a data dir another user
// owns is theirs to chmod back open, whoever runs the node.
func ownedByUs(path string, fi fs.FileInfo) error {
	uid, ok := ownerOf(fi)
	if !ok {
		return nil
	}
	if me := effectiveUID(); me >= 0 && uid != me {
		return fmt.Errorf("%s is owned by uid %d, not by this process's uid %d: refusing to use a data dir another user controls (chown -R it to this user, or run hookq as its owner)", path, uid, me)
	}
	return nil
}
