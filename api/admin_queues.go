package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

// queueSettingsJSON is a queue's settings as responses write them (docs/API.md §3.1).
type queueSettingsJSON struct {
	VisibilityTimeout string   `json:"visibilityTimeout"`
	MaxAttempts       uint32   `json:"maxAttempts"`
	Backoff           []string `json:"backoff"`
	DeadLetterQueue   string   `json:"deadLetterQueue"`
	Retention         string   `json:"retention"`
	MaxDepth          int64    `json:"maxDepth"`
}

// queueStatsJSON is the stats of docs/API.md §7.1.
type queueStatsJSON struct {
	Ready                 int64   `json:"ready"`
	Inflight              int64   `json:"inflight"`
	Delayed               int64   `json:"delayed"`
	Acked                 int64   `json:"acked"`
	OldestReadyAgeSeconds float64 `json:"oldestReadyAgeSeconds"`
	Enqueued              int64   `json:"enqueued"`
	Delivered             int64   `json:"delivered"`
	DeadLettered          int64   `json:"deadLettered"`
}

// queueJSON is the queue object of GET /v1/queues/{q}.
type queueJSON struct {
	Name     string            `json:"name"`
	Settings queueSettingsJSON `json:"settings"`
	Stats    queueStatsJSON    `json:"stats"`
}

func queueOf(qi broker.QueueInfo) queueJSON {
	c := qi.Config
	set := queueSettingsJSON{
		VisibilityTimeout: c.VisibilityTimeout.String(), MaxAttempts: c.MaxAttempts,
		Backoff: make([]string, 0, len(c.Backoff)), DeadLetterQueue: c.DeadLetterQueue,
		Retention: c.Retention.String(), MaxDepth: c.MaxDepth,
	}
	for _, b := range c.Backoff {
		set.Backoff = append(set.Backoff, b.String())
	}
	st := qi.Stats
	return queueJSON{Name: qi.Name, Settings: set, Stats: queueStatsJSON{
		Ready: st.Ready, Inflight: st.Inflight, Delayed: st.Delayed, Acked: st.Acked,
		OldestReadyAgeSeconds: st.OldestReadyAge.Seconds(),
		Enqueued:              st.Enqueued, Delivered: st.Delivered, DeadLettered: st.DeadLettered,
	}}
}

// queuePutBody is PUT /v1/queues/{q}: every setting optional (nil takes
// its default, since PUT replaces the whole resource).
type queuePutBody struct {
	VisibilityTimeout *string   `json:"visibilityTimeout"`
	MaxAttempts       *int64    `json:"maxAttempts"`
	Backoff           *[]string `json:"backoff"`
	DeadLetterQueue   *string   `json:"deadLetterQueue"`
	Retention         *string   `json:"retention"`
	MaxDepth          *int64    `json:"maxDepth"`
}

// queueConfig validates body against docs/API.md §3.1 and builds the stored config.
// Omitted settings take the defaults; for a queue that is another queue's
// dead-letter queue the defaults are those it was created with (no DLQ of
// its own, no attempt limit).
func queueConfig(name string, body queuePutBody, isDLQ bool) (broker.QueueConfig, error) {
	cfg := broker.DefaultQueueConfig(name)
	if isDLQ {
		cfg = broker.DeadLetterQueueDefaults(cfg)
	}
	if v := body.VisibilityTimeout; v != nil {
		d, err := parseDuration("visibilityTimeout", *v, minVisibility, maxVisibility)
		if err != nil {
			return broker.QueueConfig{}, err
		}
		cfg.VisibilityTimeout = d
	}
	if v := body.MaxAttempts; v != nil {
		if err := checkUint32("maxAttempts", *v); err != nil {
			return broker.QueueConfig{}, err
		}
		cfg.MaxAttempts = uint32(*v) // #nosec G115 -- checkUint32 just above rejects values outside 0..MaxUint32
	}
	if v := body.Backoff; v != nil {
		if len(*v) == 0 {
			return broker.QueueConfig{}, badRequest("backoff: at least one duration is required")
		}
		if len(*v) > broker.MaxBackoffSteps {
			return broker.QueueConfig{}, badRequest("backoff: at most %d durations", broker.MaxBackoffSteps)
		}
		cfg.Backoff = cfg.Backoff[:0]
		for i, s := range *v {
			d, err := parseDuration(fmt.Sprintf("backoff[%d]", i), s, 0, maxNackDelay)
			if err != nil {
				return broker.QueueConfig{}, err
			}
			cfg.Backoff = append(cfg.Backoff, d)
		}
	}
	if v := body.DeadLetterQueue; v != nil {
		cfg.DeadLetterQueue = *v
	}
	if dlq := cfg.DeadLetterQueue; dlq != "" {
		switch {
		case body.DeadLetterQueue == nil && !ingest.ValidName(dlq):
			return broker.QueueConfig{}, badRequest("deadLetterQueue: the default %q is not a valid queue name (too long): set deadLetterQueue", dlq)
		case !ingest.ValidName(dlq):
			return broker.QueueConfig{}, nameError("deadLetterQueue", dlq)
		case dlq == name:
			return broker.QueueConfig{}, badRequest("deadLetterQueue: a queue cannot be its own dead-letter queue")
		}
	}
	if v := body.Retention; v != nil {
		d, err := positiveDuration("retention", *v)
		if err != nil {
			return broker.QueueConfig{}, err
		}
		if d > broker.MaxRetention {
			return broker.QueueConfig{}, badRequest("retention: %v is over the limit of %v", d, broker.MaxRetention)
		}
		cfg.Retention = d
	}
	if v := body.MaxDepth; v != nil {
		if *v < 1 {
			return broker.QueueConfig{}, badRequest("maxDepth: %d must be at least 1", *v)
		}
		cfg.MaxDepth = *v
	}
	return cfg, nil
}

// isDeadLetterQueue reports whether some other queue names q as its DLQ.
// (It used to list every queue with its stats: O(queues) Pebble scans per
// PUT, which made creating 10,000 queues take minutes.)
func (s *Server) isDeadLetterQueue(q string) (bool, error) {
	return s.adm.IsDeadLetterQueue(q), nil
}

// handlePutQueue: PUT /v1/queues/{q} → 201 created / 200 updated, body the
// queue object.
func (s *Server) handlePutQueue(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	if !ingest.ValidName(q) {
		s.writeError(w, r, nameError("queue", q))
		return
	}
	var body queuePutBody
	if err := decodeJSON(r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	isDLQ, err := s.isDeadLetterQueue(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cfg, err := queueConfig(q, body, isDLQ)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.adm.PutQueue(r.Context(), q, cfg)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	qi, err := s.adm.Queue(q)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, queueOf(qi))
}

// handleGetQueue: GET /v1/queues/{q}.
func (s *Server) handleGetQueue(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	qi, err := s.adm.Queue(q)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	writeJSON(w, http.StatusOK, queueOf(qi))
}

// handleListQueues: GET /v1/queues — the queues the caller may read.
func (s *Server) handleListQueues(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	qs, err := s.adm.Queues()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Queues []queueJSON `json:"queues"`
	}{Queues: make([]queueJSON, 0, len(qs))}
	for _, qi := range qs {
		if p.can("read", qi.Name) {
			out.Queues = append(out.Queues, queueOf(qi))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDeleteQueue: DELETE /v1/queues/{q} → 204.
func (s *Server) handleDeleteQueue(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	if err := s.adm.DeleteQueue(r.Context(), q); err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// notFoundAs400 turns a not-found of a referenced resource into a 400:
// the request names something that does not exist, the URL is fine.
func notFoundAs400(err error, format string, args ...any) error {
	if errors.Is(err, broker.ErrQueueNotFound) {
		return badRequest(format, args...)
	}
	return err
}
