// Package backupfile owns the format of a hookq backup file: a magic line,
// a JSON header line (the file format, the data format and release of the
// node that wrote it), the node's snapshot stream as storage writes it
// (itself versioned by its own magic), and a trailer with the SHA-256 of
// everything before it. A truncated or altered file fails Open. It never
// interprets the snapshot stream: that is storage's.
package backupfile

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"
)

// Format is the version of the backup file layout this package writes
// and reads.
const Format = 1

const (
	magic        = "hookq-backup\n"
	trailerStart = "\nhookq-backup-sha256 "
	// trailerLen: trailerStart, 64 hex digits, "\n".
	trailerLen = len(trailerStart) + sha256.Size*2 + 1
	maxHeader  = 64 << 10
)

// ErrCorrupt is returned by Open for a file that is not a whole hookq
// backup: wrong magic, bad header, truncated, or a checksum mismatch.
var ErrCorrupt = errors.New("backupfile: not a valid hookq backup")

// Header describes a backup.
type Header struct {
	Format     int       `json:"format"`     // Format
	DataFormat int       `json:"dataFormat"` // data dir format of the node that wrote it
	Release    string    `json:"release"`    // hookq release of that node
	Node       string    `json:"node"`       // its id
	Created    time.Time `json:"created"`
}

// Writer frames a snapshot stream: NewWriter writes the magic and header,
// Write passes the stream through, Close writes the checksum trailer.
type Writer struct {
	w   io.Writer
	sum hash.Hash
	err error
}

// NewWriter starts a backup on w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format = Format
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	bw := &Writer{w: w, sum: sha256.New()}
	if _, err := bw.Write(append([]byte(magic), append(hdr, '\n')...)); err != nil {
		return nil, err
	}
	return bw, nil
}

func (bw *Writer) Write(p []byte) (int, error) {
	if bw.err != nil {
		return 0, bw.err
	}
	n, err := bw.w.Write(p)
	bw.sum.Write(p[:n])
	bw.err = err
	return n, err
}

// Close writes the trailer; it does not close the underlying writer.
func (bw *Writer) Close() error {
	if bw.err != nil {
		return bw.err
	}
	_, err := io.WriteString(bw.w, trailerStart+hex.EncodeToString(bw.sum.Sum(nil))+"\n")
	return err
}

// Open checks the whole file (magic, header, trailer, checksum) and returns
// its header and a reader of the snapshot stream inside it.
func Open(f *os.File) (Header, io.Reader, error) {
	var h Header
	fi, err := f.Stat()
	if err != nil {
		return h, nil, err
	}
	size := fi.Size()
	if size < int64(len(magic)+trailerLen) {
		return h, nil, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, size)
	}
	body := size - int64(trailerLen)
	trailer := make([]byte, trailerLen)
	if _, err := f.ReadAt(trailer, body); err != nil {
		return h, nil, err
	}
	want, ok := strings.CutPrefix(string(trailer), trailerStart)
	if !ok || !strings.HasSuffix(want, "\n") {
		return h, nil, fmt.Errorf("%w: no checksum trailer (truncated?)", ErrCorrupt)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(f, 0, body)); err != nil {
		return h, nil, err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != strings.TrimSuffix(want, "\n") {
		return h, nil, fmt.Errorf("%w: checksum mismatch (file altered or damaged)", ErrCorrupt)
	}
	br := bufio.NewReader(io.NewSectionReader(f, 0, min(body, int64(len(magic)+maxHeader))))
	m := make([]byte, len(magic))
	if _, err := io.ReadFull(br, m); err != nil || string(m) != magic {
		return h, nil, fmt.Errorf("%w: no hookq-backup magic", ErrCorrupt)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return h, nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if h.Format != Format {
		return h, nil, fmt.Errorf("backupfile: backup format %d, this release reads format %d", h.Format, Format)
	}
	start := int64(len(magic) + len(line))
	return h, io.NewSectionReader(f, start, body-start), nil
}
