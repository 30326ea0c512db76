package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookq/hookq/broker"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// consumerService is hookq.v1.Consumer over a Server.
type consumerService struct {
	hookqv1.UnimplementedConsumerServer
	s *Server
}

// durationField reads an optional proto duration for field, bounded to
// [lo, hi]; set is false when it is absent.
func durationField(field string, d *durationpb.Duration, lo, hi time.Duration) (v time.Duration, set bool, err error) {
	if d == nil {
		return 0, false, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, false, badRequest("%s: %v", field, err)
	}
	v = d.AsDuration()
	if v < lo || v > hi {
		return 0, false, badRequest("%s: %v is outside %v..%v", field, v, lo, hi)
	}
	return v, true, nil
}

// visibilityField is an optional visibility: absent or zero means the
// queue's visibilityTimeout.
func visibilityField(field string, d *durationpb.Duration) (time.Duration, error) {
	if d == nil || d.AsDuration() == 0 && d.CheckValid() == nil {
		return 0, nil
	}
	v, _, err := durationField(field, d, minVisibility, maxVisibility)
	return v, err
}

// Lease leases up to max messages (docs/API.md §11.3).
func (c consumerService) Lease(ctx context.Context, req *hookqv1.LeaseRequest) (*hookqv1.LeaseResponse, error) {
	s, q := c.s, req.GetQueue()
	p, err := grpcAuthorize(ctx, "consume", q)
	if err != nil {
		return nil, err
	}
	opt := broker.LeaseOptions{Max: 1}
	switch m := req.GetMax(); {
	case m > maxGRPCLease:
		return nil, badRequest("max: %d is outside 1..%d", m, maxGRPCLease)
	case m > 0:
		opt.Max = int(m)
	}
	if opt.Wait, _, err = durationField("wait", req.GetWait(), 0, maxWait); err != nil {
		return nil, err
	}
	if opt.Visibility, err = visibilityField("visibility", req.GetVisibility()); err != nil {
		return nil, err
	}
	ds, err := s.leaseAs(ctx, p, q, opt)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", q, err)
	}
	// The broker stops a lease once its bodies reach 4 MiB (it always
	// takes one, at most 16 MiB): a response fits MaxGRPCMessageBytes.
	out := &hookqv1.LeaseResponse{Deliveries: make([]*hookqv1.Delivery, 0, len(ds))}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryPB(d))
	}
	s.metrics.delivered.WithLabelValues(q).Add(float64(len(ds)))
	return out, nil
}

// leaseAs leases for p. A long-poll watches p's token while it waits and
// ends with Unauthenticated once the token is deleted (or loses the
// scope), as the HTTP long-poll does.
func (s *Server) leaseAs(ctx context.Context, p principal, q string, opt broker.LeaseOptions) ([]broker.Delivery, error) {
	if opt.Wait <= 0 {
		return s.cons.Lease(ctx, q, opt)
	}
	wctx, stop := s.watchPrincipal(ctx, p, "consume", q)
	defer stop()
	ds, err := s.cons.Lease(wctx, q, opt)
	if len(ds) == 0 && errors.Is(context.Cause(wctx), errRevoked) {
		return nil, errRevoked
	}
	return ds, err
}

// Settle settles deliveries with a status per item (docs/API.md §11.3).
func (c consumerService) Settle(ctx context.Context, req *hookqv1.SettleRequest) (*hookqv1.SettleResponse, error) {
	s, q := c.s, req.GetQueue()
	if _, err := grpcAuthorize(ctx, "consume", q); err != nil {
		return nil, err
	}
	items, err := settleItemsPB(req)
	if err != nil {
		return nil, err
	}
	return s.settlePB(ctx, q, items)
}

// settlePB settles items of q and answers the results in their order.
func (s *Server) settlePB(ctx context.Context, q string, items []broker.SettleItem) (*hookqv1.SettleResponse, error) {
	out := &hookqv1.SettleResponse{Results: make([]*hookqv1.SettleResult, 0, len(items))}
	if len(items) == 0 {
		return out, nil
	}
	res, err := s.cons.Settle(ctx, q, items)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", q, err)
	}
	s.noteSettled(q, items, res)
	for _, r := range res {
		out.Results = append(out.Results, &hookqv1.SettleResult{DeliveryId: r.DeliveryID, Status: settleStatus(r.Err)})
	}
	return out, nil
}

// settleStatus is a settle item's outcome as SettleResult says it.
func settleStatus(err error) hookqv1.SettleStatus {
	switch {
	case err == nil:
		return hookqv1.SettleStatus_SETTLE_OK
	case broker.Classify(err).Code == broker.CodeLeaseExpired:
		return hookqv1.SettleStatus_SETTLE_LEASE_EXPIRED
	case broker.Classify(err).Code == broker.CodeNotFound:
		return hookqv1.SettleStatus_SETTLE_NOT_FOUND
	}
	return hookqv1.SettleStatus_SETTLE_STATUS_UNSPECIFIED
}

// settleItemsPB is a SettleRequest as settle items, in the order acks,
// nacks, rejects, extends.
func settleItemsPB(req *hookqv1.SettleRequest) ([]broker.SettleItem, error) {
	n := len(req.GetAcks()) + len(req.GetNacks()) + len(req.GetRejects()) + len(req.GetExtends())
	if n > maxLeaseBatch {
		return nil, badRequest("at most %d items per settle", maxLeaseBatch)
	}
	items := make([]broker.SettleItem, 0, n)
	for _, id := range req.GetAcks() {
		items = append(items, broker.SettleItem{DeliveryID: id, Action: broker.Ack})
	}
	for i, nk := range req.GetNacks() {
		if err := checkReason(fmt.Sprintf("nacks[%d].reason", i), nk.GetReason()); err != nil {
			return nil, err
		}
		it := broker.SettleItem{DeliveryID: nk.GetDeliveryId(), Action: broker.Nack, Reason: nk.GetReason()}
		d, set, err := durationField(fmt.Sprintf("nacks[%d].delay", i), nk.GetDelay(), 0, maxNackDelay)
		if err != nil {
			return nil, err
		}
		it.HasDelay, it.Delay = set, d
		items = append(items, it)
	}
	for i, rj := range req.GetRejects() {
		if err := checkReason(fmt.Sprintf("rejects[%d].reason", i), rj.GetReason()); err != nil {
			return nil, err
		}
		items = append(items, broker.SettleItem{DeliveryID: rj.GetDeliveryId(), Action: broker.Reject, Reason: rj.GetReason()})
	}
	for i, ex := range req.GetExtends() {
		field := fmt.Sprintf("extends[%d].visibility", i)
		d, set, err := durationField(field, ex.GetVisibility(), minVisibility, maxVisibility)
		if err != nil {
			return nil, err
		}
		if !set {
			return nil, badRequest("%s: required", field)
		}
		items = append(items, broker.SettleItem{DeliveryID: ex.GetDeliveryId(), Action: broker.Extend, Visibility: d})
	}
	return items, nil
}

// deliveryPB is d as the gRPC API sends it, with the meta of REST.
func deliveryPB(d broker.Delivery) *hookqv1.Delivery {
	m := d.Message
	meta := &hookqv1.Meta{
		MessageId: m.ID, DeliveryId: d.DeliveryID, Queue: d.Queue, Source: m.Source, Attempt: m.Attempts,
		ReceivedAt: timestampPB(m.ReceivedAt), LeaseExpiresAt: timestampPB(d.LeaseExpires),
		EventId: validUTF8(m.EventID), ReplayOf: m.ReplayOf, Headers: headerMapUTF8(m.Headers),
	}
	if dl := m.DeadLetter; dl != nil {
		meta.DeadLetter = &hookqv1.DeadLetter{OriginQueue: dl.OriginQueue, Reason: validUTF8(dl.Reason), Attempts: dl.Attempts, DeadAt: timestampPB(dl.DeadAt)}
	}
	return &hookqv1.Delivery{Payload: d.Body, ContentType: validUTF8(contentTypeOr(m.ContentType)), Meta: meta}
}

func timestampPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// headerMapUTF8 is headerMap with every value valid UTF-8 (proto strings
// must be): a header value is any octets, and an invalid byte becomes
// U+FFFD, as JSON meta shows it.
func headerMapUTF8(hs []broker.Header) map[string]string {
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[validUTF8(h.Name)] = validUTF8(string(h.Value))
	}
	return m
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
