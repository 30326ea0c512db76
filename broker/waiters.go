package broker

import "sync"

// waiters wakes long-polling consumers when their queue gains available
// messages. A waiter takes the queue's channel before looking at the
// queue, so a notify between the look and the wait is never missed.
type waiters struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func newWaiters() *waiters { return &waiters{ch: map[string]chan struct{}{}} }

// wait returns a channel closed at the next notify of q.
func (w *waiters) wait(q string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.ch[q]
	if !ok {
		c = make(chan struct{})
		w.ch[q] = c
	}
	return c
}

func (w *waiters) notify(queues []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range queues {
		if c, ok := w.ch[q]; ok {
			close(c)
			delete(w.ch, q)
		}
	}
}

func (w *waiters) notifyAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for q, c := range w.ch {
		close(c)
		delete(w.ch, q)
	}
}
