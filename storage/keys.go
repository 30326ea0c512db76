package storage

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Key layout. Queue, source and node names never contain 0x00, so it
// terminates a name inside a key.
//
//	cq<q>                       queue config          ss<q>  queue stats
//	cs<s>                       source config         sa     applied index
//	ct<name>                    token record          st     last command time
//	ch<sha256>                  token hash → name     cn<id> node record
//	m<q>\0<seq>                 message record (metadata, no body)
//	b<q>\0<seq>                 body, written once per queue copy
//	r<q>\0<at><seq>             pending (ready or delayed) by available-at
//	l<q>\0<until><seq>          in flight by lease end
//	g<q>\0<at><seq>             acked messages and tombstones by settle time (GC)
//	d<src>\0<key>               dedup entry        x<at><src>\0<key>  dedup expiry
//
// Integers are big-endian so byte order is numeric order.
var (
	keyApplied = []byte("sa")
	keyTime    = []byte("st")
)

const (
	pQueueCfg  = "cq"
	pSourceCfg = "cs"
	pToken     = "ct"
	pTokenHash = "ch"
	pNode      = "cn"
	pStats     = "ss"
	pMsg       = 'm'
	pBody      = 'b'
	pReady     = 'r'
	pLeased    = 'l'
	pGC        = 'g'
	pDedup     = 'd'
	pDedupExp  = 'x'
)

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func cfgKey(prefix, name string) []byte { return append([]byte(prefix), name...) }

// queuePrefix is the start of every key of kind for queue q.
func queuePrefix(kind byte, q string) []byte {
	k := make([]byte, 0, len(q)+18)
	k = append(k, kind)
	k = append(k, q...)
	return append(k, 0)
}

func msgKey(kind byte, q string, seq uint64) []byte { return be64(queuePrefix(kind, q), seq) }

// tsKey is a timestamp as it is stored in a key (big-endian, so keys sort
// by time). Every such timestamp is >= 0, so the conversion keeps the
// order: the state machine's clock starts at 0 and never goes back
// (Txn.SetEntry), and a key time is that clock plus a duration that
// check.go and the callers keep non-negative, saturated by addSat.
func tsKey(at int64) uint64 {
	return uint64(at) // #nosec G115 -- at >= 0 (see above); the bit pattern round-trips through tsFromKey either way
}

// tsFromKey is the inverse of tsKey.
func tsFromKey(v uint64) int64 {
	return int64(v) // #nosec G115 -- v was written by tsKey from an int64: an exact round trip
}

func indexKey(kind byte, q string, at int64, seq uint64) []byte {
	return be64(be64(queuePrefix(kind, q), tsKey(at)), seq)
}

// indexEntry decodes the (at, seq) suffix of an index key of queue prefix p.
func indexEntry(key []byte, prefixLen int) (at int64, seq uint64) {
	s := key[prefixLen:]
	return tsFromKey(binary.BigEndian.Uint64(s[:8])), binary.BigEndian.Uint64(s[8:16])
}

func dedupKey(src, key string) []byte {
	k := append([]byte{pDedup}, src...)
	k = append(k, 0)
	return append(k, key...)
}

func dedupExpKey(at int64, src, key string) []byte {
	k := be64([]byte{pDedupExp}, tsKey(at))
	k = append(k, src...)
	k = append(k, 0)
	return append(k, key...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// MessageID is the external name of a message sequence number: 16 lower-case
// hex digits, URL-safe and sorting in ingest order.
func MessageID(seq uint64) string { return fmt.Sprintf("%016x", seq) }

// ParseMessageID is the inverse of MessageID.
func ParseMessageID(id string) (uint64, bool) {
	if len(id) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(id, 16, 64)
	return v, err == nil && MessageID(v) == id
}

// A deliveryId is base64url(seq ‖ attempt ‖ 16 leader-drawn random bytes):
// it names its message, and the random part makes it unguessable.
const deliveryRandLen = 16

func deliveryID(seq uint64, attempt uint32, rnd []byte) string {
	b := make([]byte, 0, 12+len(rnd))
	b = be64(b, seq)
	b = binary.BigEndian.AppendUint32(b, attempt)
	b = append(b, rnd...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseDeliveryID(id string) (seq uint64, attempt uint32, rnd []byte, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != 12+deliveryRandLen {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint32(b[8:]), b[12:], true
}
