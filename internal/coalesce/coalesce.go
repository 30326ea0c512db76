// Package coalesce shares one run of a function among concurrent callers
// that each need a run that began after they arrived (read-index round
// trips, cache reloads). It imports nothing of hookq's.
package coalesce

import "sync"

// Group coalesces runs of a function. A caller must see a run
// that began after it arrived, so callers that arrive while one is
// running share the next one, which starts when the running one ends.
type Group struct {
	mu      sync.Mutex
	running bool
	next    *call
}

type call struct {
	done chan struct{}
	err  error
}

// Do runs fn, or waits for the run of fn that starts next, and returns
// that run's error.
func (g *Group) Do(fn func() error) error {
	g.mu.Lock()
	if g.next == nil {
		g.next = &call{done: make(chan struct{})}
	}
	c := g.next
	if !g.running {
		g.running = true
		g.next = nil
		go g.run(c, fn)
	}
	g.mu.Unlock()
	<-c.done
	return c.err
}

func (g *Group) run(c *call, fn func() error) {
	for c != nil {
		c.err = fn()
		close(c.done)
		g.mu.Lock()
		c, g.next = g.next, nil
		if c == nil {
			g.running = false
		}
		g.mu.Unlock()
	}
}
