package broker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// newEntryOps is hookq_raft_entry_ops: how many operations each Raft
// entry this node proposed as leader carried, which shows whether group
// commit packs concurrent requests together under load.
func newEntryOps() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hookq_raft_entry_ops",
		Help:    "Operations (webhooks, leases, settlements, admin changes) per Raft entry proposed by this node as leader: the group commit's batch size.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024 (BatchConfig.MaxOps)
	})
}

// registerMetrics creates the broker's metrics and registers them, with
// the state machine's, on reg when it is not nil.
func (b *Broker) registerMetrics(reg prometheus.Registerer) error {
	b.entryOps = newEntryOps()
	if reg == nil {
		return nil
	}
	for i, c := range b.collectors() {
		if err := reg.Register(c); err != nil {
			for _, done := range b.collectors()[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("broker: metrics: %w", err)
		}
	}
	b.metrics = reg
	return nil
}

func (b *Broker) collectors() []prometheus.Collector {
	return []prometheus.Collector{b.fsm.Collector(), b.entryOps}
}

// unregisterMetrics undoes registerMetrics.
func (b *Broker) unregisterMetrics() {
	if b.metrics == nil {
		return
	}
	for _, c := range b.collectors() {
		b.metrics.Unregister(c)
	}
}
