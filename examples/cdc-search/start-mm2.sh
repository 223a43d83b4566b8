#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Work in progress (issue 13): MirrorMaker 2 (dedicated mode) copying the change topics
# shop.public.* and the consumer group `search` from SOURCE (Runnel) to TARGET (Kafka), keeping
# topic names (IdentityReplicationPolicy) so a consumer can move over unchanged. Writes its
# properties, log and pid into WORKDIR. Usage: start-mm2.sh SOURCE TARGET WORKDIR
# connect-mirror 4.4.0 is not served by the registry here: 4.3.1 runs on its own 4.3.1 class
# path (pom-mirror.xml), since Kafka 4.4 moved classes its MirrorMaker uses.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source=$1 target=$2 work=$3
mkdir -p "$work"
cat >"$work/mm2.properties" <<EOP
clusters=runnel,kafka
runnel.bootstrap.servers=$source
kafka.bootstrap.servers=$target
runnel->kafka.enabled=true
runnel->kafka.topics=shop\\\\.public\\\\..*
runnel->kafka.groups=search
kafka->runnel.enabled=false
replication.policy.class=org.apache.kafka.connect.mirror.IdentityReplicationPolicy
replication.factor=1
checkpoints.topic.replication.factor=1
heartbeats.topic.replication.factor=1
offset-syncs.topic.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
config.storage.replication.factor=1
sync.group.offsets.enabled=true
sync.group.offsets.interval.seconds=1
emit.checkpoints.interval.seconds=1
emit.heartbeats.interval.seconds=1
refresh.topics.interval.seconds=5
refresh.groups.interval.seconds=5
offset.flush.interval.ms=1000
offset.lag.max=0
EOP
nohup java -Xmx512m -Dconnect.logs.dir="$work" \
    -Dlog4j2.configurationFile="$here/log4j2-connect.xml" \
    -cp "$root/.cache/cdc/mm2-libs/*" \
    org.apache.kafka.connect.mirror.MirrorMaker "$work/mm2.properties" --clusters kafka \
    >"$work/mm2.out" 2>&1 </dev/null &
echo $! >"$work/mm2.pid"
echo "mm2: pid $(cat "$work/mm2.pid"), log $work/connect.log"
