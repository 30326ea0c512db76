package client

import (
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Message is one message to publish.
type Message struct {
	// Body is stored and delivered byte for byte.
	Body []byte
	// ContentType is delivered with the message (default
	// application/octet-stream).
	ContentType string
	// Headers are delivered in the message's meta.
	Headers map[string]string
	// EventID, when set, de-duplicates the message on its queue: publishing
	// the same id again answers the first message's id and stores nothing.
	EventID string
}

// Delivery is one leased message. Settle it by its Meta.DeliveryID.
type Delivery struct {
	// Payload is the message body, byte for byte.
	Payload []byte
	// ContentType is the stored content type.
	ContentType string
	// Meta describes the message and this lease of it.
	Meta Meta
}

// Meta describes a delivery, as the meta of the HTTP API does.
type Meta struct {
	MessageID  string
	DeliveryID string
	Queue      string
	Source     string
	// Attempt counts the leases of the message in this queue, this one
	// included (1 on the first delivery).
	Attempt int
	// ReceivedAt is when hookq accepted the message.
	ReceivedAt time.Time
	// LeaseExpiresAt is when this lease ends unless settled or extended
	// (the server's clock).
	LeaseExpiresAt time.Time
	// EventID is the provider's (or publisher's) event id, if any.
	EventID string
	// ReplayOf is the original message id of a replay, if any.
	ReplayOf string
	// Headers are the stored request headers.
	Headers map[string]string
	// DeadLetter is set in a dead-letter queue.
	DeadLetter *DeadLetter
}

// DeadLetter says where a dead-lettered message came from and why.
type DeadLetter struct {
	OriginQueue string
	Reason      string
	Attempts    int
	DeadAt      time.Time
}

// LeaseOptions shape a Lease call; the zero value leases one message
// without waiting, for the queue's visibility timeout.
type LeaseOptions struct {
	// Max is the most deliveries to return (default 1; at most 100 over
	// gRPC, 1000 over REST).
	Max int
	// Wait is how long to wait for a first message (0..30s).
	Wait time.Duration
	// Visibility is the lease length (1s..12h; 0: the queue's).
	Visibility time.Duration
}

// Immediately, as a nack delay, makes the message available again at once.
// (A zero delay leaves the time to the queue's backoff.)
const Immediately time.Duration = -1

// NackOptions shape a nack.
type NackOptions struct {
	// Delay is how long until the message is available again: 0 (the
	// zero value) uses the queue's backoff for the attempt, Immediately
	// redelivers at once, otherwise 0..12h.
	Delay time.Duration
	// Reason is recorded with the delivery (at most 1024 bytes).
	Reason string
}

// NackItem is one nack of a batch Settle.
type NackItem struct {
	DeliveryID string
	// Delay as in NackOptions.
	Delay  time.Duration
	Reason string
}

// RejectItem is one reject of a batch Settle.
type RejectItem struct {
	DeliveryID string
	// Reason is recorded in the dead letter (default "rejected").
	Reason string
}

// ExtendItem is one extend of a batch Settle.
type ExtendItem struct {
	DeliveryID string
	// Visibility is the new lease length, counted from now (1s..12h).
	Visibility time.Duration
}

// Settlement is a batch of settlements of one queue's deliveries.
type Settlement struct {
	Acks    []string
	Nacks   []NackItem
	Rejects []RejectItem
	Extends []ExtendItem
}

// SettleStatus is the outcome of one item of a batch Settle.
type SettleStatus string

// Outcomes of a settlement item.
const (
	SettleOK           SettleStatus = "ok"
	SettleLeaseExpired SettleStatus = "lease_expired"
	SettleNotFound     SettleStatus = "not_found"
)

// SettleResult is one item's outcome.
type SettleResult struct {
	DeliveryID string
	Status     SettleStatus
}

// err is the result as the error a single-delivery call returns.
func (r SettleResult) err(op string) error {
	switch r.Status {
	case SettleOK:
		return nil
	case SettleLeaseExpired:
		e := &Error{Op: op, Code: CodeLeaseExpired, Message: "delivery " + r.DeliveryID + ": lease expired"}
		e.fill()
		return e
	case SettleNotFound:
		e := &Error{Op: op, Code: CodeNotFound, Message: "delivery " + r.DeliveryID + ": not found"}
		e.fill()
		return e
	}
	e := &Error{Op: op, Code: CodeInternal, Message: "delivery " + r.DeliveryID + ": unknown settle status " + string(r.Status)}
	e.fill()
	return e
}

// Conversions to and from the gRPC messages.

func durPB(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// nackDelayPB is a nack delay on the wire: nil for the queue's backoff.
func nackDelayPB(d time.Duration) *durationpb.Duration {
	switch {
	case d == 0:
		return nil
	case d < 0:
		return durationpb.New(0)
	}
	return durationpb.New(d)
}

func deliveryOfPB(d *hookqv1.Delivery) Delivery {
	m := d.GetMeta()
	out := Delivery{Payload: d.GetPayload(), ContentType: d.GetContentType(), Meta: Meta{
		MessageID:  m.GetMessageId(),
		DeliveryID: m.GetDeliveryId(),
		Queue:      m.GetQueue(),
		Source:     m.GetSource(),
		Attempt:    int(m.GetAttempt()),
		EventID:    m.GetEventId(),
		ReplayOf:   m.GetReplayOf(),
		Headers:    m.GetHeaders(),
	}}
	if t := m.GetReceivedAt(); t != nil {
		out.Meta.ReceivedAt = t.AsTime()
	}
	if t := m.GetLeaseExpiresAt(); t != nil {
		out.Meta.LeaseExpiresAt = t.AsTime()
	}
	if dl := m.GetDeadLetter(); dl != nil {
		out.Meta.DeadLetter = &DeadLetter{OriginQueue: dl.GetOriginQueue(), Reason: dl.GetReason(), Attempts: int(dl.GetAttempts())}
		if t := dl.GetDeadAt(); t != nil {
			out.Meta.DeadLetter.DeadAt = t.AsTime()
		}
	}
	if out.Meta.Headers == nil {
		out.Meta.Headers = map[string]string{}
	}
	return out
}

func settlePB(queue string, s Settlement) *hookqv1.SettleRequest {
	req := &hookqv1.SettleRequest{Queue: queue, Acks: s.Acks}
	for _, n := range s.Nacks {
		req.Nacks = append(req.Nacks, &hookqv1.Nack{DeliveryId: n.DeliveryID, Delay: nackDelayPB(n.Delay), Reason: n.Reason})
	}
	for _, r := range s.Rejects {
		req.Rejects = append(req.Rejects, &hookqv1.Reject{DeliveryId: r.DeliveryID, Reason: r.Reason})
	}
	for _, x := range s.Extends {
		req.Extends = append(req.Extends, &hookqv1.Extend{DeliveryId: x.DeliveryID, Visibility: durPB(x.Visibility)})
	}
	return req
}

func settleStatusOfPB(s hookqv1.SettleStatus) SettleStatus {
	switch s {
	case hookqv1.SettleStatus_SETTLE_OK:
		return SettleOK
	case hookqv1.SettleStatus_SETTLE_LEASE_EXPIRED:
		return SettleLeaseExpired
	case hookqv1.SettleStatus_SETTLE_NOT_FOUND:
		return SettleNotFound
	}
	return SettleStatus(s.String())
}
