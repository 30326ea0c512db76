package api

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	accepted   *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	delivered  *prometheus.CounterVec
	settled    *prometheus.CounterVec
	published  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_ingest_accepted_total", Help: "Webhooks accepted and durably enqueued, by source.",
		}, []string{"source"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_ingest_duplicates_total", Help: "Webhooks answered as duplicates of an earlier event, by source.",
		}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_ingest_rejected_total", Help: "Webhooks refused, by source and reason.",
		}, []string{"source", "reason"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_deliveries_total", Help: "Messages leased to consumers, by queue.",
		}, []string{"queue"}),
		settled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_settlements_total", Help: "Deliveries settled, by queue and action.",
		}, []string{"queue", "action"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_published_total", Help: "Messages published (gRPC Publish, POST /v1/queues/{q}/publish) and durably enqueued, by queue; duplicates not counted.",
		}, []string{"queue"}),
	}
	reg.MustRegister(m.accepted, m.duplicates, m.rejected, m.delivered, m.settled, m.published)
	return m
}
