package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DataFormat is the layout of a voter's data dir that this release reads
// and writes: raft/ (the Raft log in bbolt, Raft snapshots) and fsm/ (the
// Pebble store and its CURRENT generation). A release that changes the
// layout or the stored records incompatibly raises it, and refuses to
// start on a format it does not know rather than misread the data.
const DataFormat = 1

// FormatFile is the file in the data dir that records its format.
const FormatFile = "FORMAT"

// ErrDataFormat is returned by Open for a data dir of another format.
var ErrDataFormat = errors.New("broker: unknown data format")

// checkDataFormat makes sure dir holds data of DataFormat: it records the
// format in a fresh dir (and in one written before formats were recorded,
// which is format 1), and refuses any other.
func checkDataFormat(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	path := filepath.Join(dir, FormatFile)
	b, err := os.ReadFile(path) // #nosec G304 -- inside the operator's --data-dir
	switch {
	case err == nil:
		v, perr := parseFormat(string(b))
		if perr != nil {
			return fmt.Errorf("%w: %s: %v", ErrDataFormat, path, perr)
		}
		if v != DataFormat {
			return fmt.Errorf("%w: data dir %s has format %d, this release reads format %d only: "+
				"run a release that knows format %d (see docs/OPERATIONS.md, upgrades), or start from a backup",
				ErrDataFormat, dir, v, DataFormat, v)
		}
		return nil
	case errors.Is(err, os.ErrNotExist):
		return WriteDataFormat(dir)
	default:
		return fmt.Errorf("broker: data format: %w", err)
	}
}

func parseFormat(s string) (int, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[0] != "hookq-data-format" {
		return 0, fmt.Errorf("not a hookq format file (want \"hookq-data-format <n>\")")
	}
	v, err := strconv.Atoi(f[1])
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("format %q is not a positive number", f[1])
	}
	return v, nil
}

// WriteDataFormat records DataFormat in dir (durably: written aside, synced,
// renamed, and the dir synced).
func WriteDataFormat(dir string) error {
	path := filepath.Join(dir, FormatFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // #nosec G304 -- inside --data-dir
	if err != nil {
		return fmt.Errorf("broker: data format: %w", err)
	}
	_, err = fmt.Fprintf(f, "hookq-data-format %d\n", DataFormat)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("broker: data format: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- inside --data-dir
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
