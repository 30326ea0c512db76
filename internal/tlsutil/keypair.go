package tlsutil

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ReloadInterval is how often a watched key pair's files are checked for
// a change.
const ReloadInterval = 10 * time.Second

// Keypair is a certificate and key loaded from two PEM files that can be
// loaded again while connections use it: a handshake always gets the
// newest pair that loaded cleanly. A pair that fails to load (a missing
// file, a key that does not match, a half-written rotation) is logged and
// the previous one stays in use.
type Keypair struct {
	certFile, keyFile string
	log               *slog.Logger

	cur atomic.Pointer[tls.Certificate]
	// check, when set, must accept a newly loaded pair (given the one in
	// use) before it replaces it.
	check func(next, prev *tls.Certificate) error

	mu    sync.Mutex // serialises loads; guards seen
	seen  stamp      // files as of the last load attempt
	loads atomic.Uint64
}

// stamp identifies a version of the two files.
type stamp struct {
	certMod, keyMod   int64 // UnixNano
	certSize, keySize int64
}

func statStamp(certFile, keyFile string) (stamp, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return stamp{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return stamp{}, err
	}
	return stamp{certMod: c.ModTime().UnixNano(), keyMod: k.ModTime().UnixNano(), certSize: c.Size(), keySize: k.Size()}, nil
}

// LoadKeypair loads a pair; it fails when the first load does.
func LoadKeypair(certFile, keyFile string, log *slog.Logger) (*Keypair, error) {
	if log == nil {
		log = slog.Default()
	}
	k := &Keypair{certFile: certFile, keyFile: keyFile, log: log}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadLocked(); err != nil {
		return nil, err
	}
	return k, nil
}

// Certificate is the pair in use.
func (k *Keypair) Certificate() *tls.Certificate { return k.cur.Load() }

// Loads counts the pairs loaded cleanly, the first one included.
func (k *Keypair) Loads() uint64 { return k.loads.Load() }

// Reload loads the files again. On failure it logs, keeps the pair in
// use, and returns the error.
func (k *Keypair) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadLocked(); err != nil {
		k.log.Error("tls: reloading key pair failed; keeping the previous one", "cert", k.certFile, "err", err)
		return err
	}
	leaf := k.cur.Load().Leaf
	k.log.Info("tls: key pair reloaded", "cert", k.certFile, "serial", leaf.SerialNumber.String(), "notAfter", leaf.NotAfter)
	return nil
}

func (k *Keypair) loadLocked() error {
	if st, err := statStamp(k.certFile, k.keyFile); err == nil {
		k.seen = st
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("tlsutil: key pair %s, %s: %w", k.certFile, k.keyFile, err)
	}
	if c.Leaf == nil {
		return fmt.Errorf("tlsutil: key pair %s: no leaf certificate", k.certFile)
	}
	if k.check != nil {
		if err := k.check(&c, k.cur.Load()); err != nil {
			return fmt.Errorf("tlsutil: key pair %s: %w", k.certFile, err)
		}
	}
	k.cur.Store(&c)
	k.loads.Add(1)
	return nil
}

// changed reports whether the files differ from the last load attempt.
func (k *Keypair) changed() bool {
	st, err := statStamp(k.certFile, k.keyFile)
	if err != nil {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return st != k.seen
}

// Watch reloads the pair whenever its files change (polled every
// interval) until ctx ends. A change that fails to load is logged once,
// not at every poll.
func (k *Keypair) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if k.changed() {
			_ = k.Reload()
		}
	}
}
