#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Work in progress (issue 13): registers Debezium's PostgreSQL connector with the Connect worker
# at REST_URL, capturing database `shop` on PG_HOST:PG_PORT into compacted topics shop.public.*.
# Usage: register-debezium.sh REST_URL PG_HOST PG_PORT
set -euo pipefail
rest=$1 pg_host=$2 pg_port=$3
curl -sS -X PUT -H 'Content-Type: application/json' "$rest/connectors/shop-postgres/config" -d @- <<EOJ
{
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "tasks.max": "1",
  "database.hostname": "$pg_host",
  "database.port": "$pg_port",
  "database.user": "postgres",
  "database.password": "unused",
  "database.dbname": "shop",
  "topic.prefix": "shop",
  "plugin.name": "pgoutput",
  "slot.name": "shop_cdc",
  "publication.name": "shop_cdc",
  "publication.autocreate.mode": "filtered",
  "table.include.list": "public.customers,public.products,public.orders",
  "snapshot.mode": "initial",
  "topic.creation.default.replication.factor": "1",
  "topic.creation.default.partitions": "1",
  "topic.creation.default.cleanup.policy": "compact"
}
EOJ
echo
