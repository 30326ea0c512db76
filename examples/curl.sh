#!/usr/bin/env bash
# Every consumer path of hookq with curl. Needs curl and jq (jq picks
# fields out of the JSON answers: apt install jq, brew install jq).
# Against a dev node (`hookq serve --dev`: token "dev", source and queue "demo"):
#
#   ./examples/curl.sh
#
# Override with HOOKQ_URL, HOOKQ_TOKEN, SOURCE and QUEUE.
set -euo pipefail

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "examples/curl.sh needs $tool on PATH (apt install $tool, brew install $tool)" >&2; exit 1; }
done

URL=${HOOKQ_URL:-http://127.0.0.1:8080}
TOKEN=${HOOKQ_TOKEN:-dev}
SOURCE=${SOURCE:-demo}
QUEUE=${QUEUE:-demo}
AUTH="Authorization: Bearer $TOKEN"
Q="$URL/v1/queues/$QUEUE"

step() { printf '\n== %s\n' "$*"; }
post() { curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "$2" "$URL/hooks/$1"; }
# meta: lease one message with next and print its X-Hookq-Meta JSON.
meta() {
  curl -fsS -D - -o /dev/null -H "$AUTH" "$Q/next?wait=5s$1" |
    sed -n 's/^[Xx]-[Hh]ookq-[Mm]eta: //p' | tr -d '\r'
}

step "post three webhooks"
for i in 1 2 3; do post "$SOURCE" "{\"type\":\"order.created\",\"n\":$i}"; done

step "next (long-poll up to 5s): raw body, meta in X-Hookq-Meta, action URLs in Link"
curl -sS -i -H "$AUTH" "$Q/next?wait=5s&visibility=60s"
# That message stays leased for 60s; the next calls get the others.

step "next + ack"
ACK=$(meta "" | jq -r .ackUrl)
curl -fsS -X POST -H "$AUTH" -o /dev/null -w 'ack → %{http_code}\n' "$ACK"
curl -sS -X POST -H "$AUTH" -w ' → %{http_code}\n' "$ACK" # again: 409 lease_expired

step "next + nack with a 2s delay, then it comes back (attempt 2)"
NACK=$(meta "" | jq -r .nackUrl)
curl -fsS -X POST -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"reason":"downstream busy","delay":"2s"}' -o /dev/null -w 'nack → %{http_code}\n' "$NACK"
AGAIN=$(meta "")
echo "redelivered: attempt $(jq -r .attempt <<<"$AGAIN")"

step "extend the lease, then reject it into $QUEUE.dlq"
curl -fsS -X POST -H "$AUTH" -H 'Content-Type: application/json' -d '{"visibility":"5m"}' "$(jq -r .extendUrl <<<"$AGAIN")"
echo
curl -fsS -X POST -H "$AUTH" -H 'Content-Type: application/json' -d '{"reason":"schema mismatch"}' \
  -o /dev/null -w 'reject → %{http_code}\n' "$(jq -r .rejectUrl <<<"$AGAIN")"

step "batch lease (envelopes) + batch settle (a status per item)"
for i in 4 5 6; do post "$SOURCE" "{\"type\":\"order.paid\",\"n\":$i}"; done
LEASED=$(curl -fsS -X POST -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"max":3,"wait":"5s","visibility":"30s"}' "$Q/lease")
jq -c '.messages[] | {payload, encoding, messageId: .meta.messageId}' <<<"$LEASED"
SETTLE=$(jq -c '[.messages[].meta.deliveryId] as $d |
  {ack: [$d[0]], nack: [{deliveryId: $d[1], delay: "0s"}], reject: [{deliveryId: $d[2], reason: "bad"}]}' <<<"$LEASED")
curl -fsS -X POST -H "$AUTH" -H 'Content-Type: application/json' -d "$SETTLE" "$Q/settle"
echo

step "autoAck: at-most-once, acked as it is delivered"
curl -fsS -X POST -H "$AUTH" "$Q/lease?autoAck=true" -d '{"max":10}' | jq -c '[.messages[].meta.messageId]'

step "SSE for 5s (curl -N: no buffering); ack each event's ackUrl to get more"
post "$SOURCE" '{"type":"order.shipped","n":7}'
curl -sS -N -H "$AUTH" --max-time 5 "$Q/stream?maxInFlight=4&visibility=30s" || true
echo
