#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Work in progress (issue 13): starts a Kafka Connect 4.4 distributed worker against
# BOOTSTRAP (host:port), with Debezium's PostgreSQL plugin, its REST API on REST_PORT, writing
# its log and pid into WORKDIR. Usage: start-connect.sh BOOTSTRAP REST_PORT WORKDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bootstrap=$1 rest_port=$2 work=$3
mkdir -p "$work"
cat >"$work/worker.properties" <<EOP
bootstrap.servers=$bootstrap
group.id=cdc-connect
config.storage.topic=cdc-connect-configs
offset.storage.topic=cdc-connect-offsets
status.storage.topic=cdc-connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
offset.flush.interval.ms=1000
${CONNECT_EXTRA:-}
listeners=http://127.0.0.1:$rest_port
plugin.path=$root/.cache/cdc/plugins
EOP
nohup java -Xmx512m -Dconnect.logs.dir="$work" \
    -Dlog4j2.configurationFile="$here/log4j2-connect.xml" \
    -cp "$root/.cache/cdc/connect-libs/*" org.apache.kafka.connect.cli.ConnectDistributed \
    "$work/worker.properties" >"$work/connect.out" 2>&1 </dev/null &
echo $! >"$work/connect.pid"
echo "connect: pid $(cat "$work/connect.pid"), REST http://127.0.0.1:$rest_port, log $work/connect.log"
