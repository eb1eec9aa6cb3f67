#!/usr/bin/env bash
# A real Apache Kafka (KRaft) for Herald's integration tests, run from jars fetched from Maven
# Central. No Docker, no tarball. By default a single node (broker and controller in one JVM);
# with HERALD_KAFKA_NODES=3, a three-node cluster on this machine, as production runs Kafka.
#
#   kafka.sh fetch         download the jars once (cached; later runs do nothing)
#   kafka.sh start [N]     start the broker on 127.0.0.1:19092 and wait until it answers metadata
#                          (a cluster: every node, or node N only, each until it is registered)
#   kafka.sh stop [N]      SIGTERM, wait, SIGKILL after HERALD_KAFKA_STOP_TIMEOUT seconds
#   kafka.sh kill [N]      SIGKILL at once (a crash): every node, or node N; data stays
#   kafka.sh restart       stop, then start (topics and offsets survive)
#   kafka.sh status        exit 0 when running (a cluster: every node), 3 when not
#   kafka.sh clean         stop and delete the broker's data (the next start formats a fresh cluster)
#   kafka.sh vectors       regenerate packages/core/test/fixtures/kafka-partitioner-vectors.json
#
# Every command is idempotent: `start` on a running broker and `stop` on a stopped one exit 0.
#
# Environment:
#   HERALD_KAFKA_HOME             cache and run folder (default <repo>/.cache/kafka, gitignored):
#                                 jars in <home>/<version>/libs, pid/logs/data in <home>/run
#   HERALD_KAFKA_RUN              the run folder instead of <home>/run (<home>/cluster for a
#                                 cluster): a test's private brokers use the shared jars this way
#   HERALD_KAFKA_VERSION          Kafka version (default: kafka.version in pom.xml)
#   HERALD_KAFKA_HOST             address the brokers listen on and advertise (default 127.0.0.1)
#   HERALD_KAFKA_PORT             client listener port (default 19092)
#   HERALD_KAFKA_CONTROLLER_PORT  controller listener port (default 19093)
#   HERALD_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   HERALD_KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 30)
#   HERALD_KAFKA_HEAP             JVM heap of each node (default 512m)
#
# A cluster (HERALD_KAFKA_NODES=3; any N >= 2 works the same way):
#   HERALD_KAFKA_NODES            number of nodes (default 1: the single node above)
#   HERALD_KAFKA_PORTS            client ports, one per node (default 19192,19194,19196)
#   HERALD_KAFKA_CONTROLLER_PORTS controller ports, one per node (default 19193,19195,19197)
# Node i (1..N) has node.id i, its ports the i-th of each list, its configuration, data, pid and
# logs in <run>/node-<i>. Every node is broker and controller: the controller quorum is all N
# nodes (a static quorum; a majority must be up). Topics get default.replication.factor=3 (N when
# fewer) and min.insync.replicas=2, the internal topics too, so an acks=all append survives the
# loss of any one node, and a partition keeps accepting appends while two replicas are in sync.
# Bootstrap with every node: HERALD_TEST_KAFKA=127.0.0.1:19192,127.0.0.1:19194,127.0.0.1:19196.
#
# Maven uses the ordinary ~/.m2 repository, so a second fetch into a new cache folder is quick.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/../.." && pwd)
pom=$script_dir/pom.xml

pinned_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n 1)
version=${HERALD_KAFKA_VERSION:-$pinned_version}
kafka_home=${HERALD_KAFKA_HOME:-$repo_dir/.cache/kafka}
libs_dir=$kafka_home/$version/libs
nodes=${HERALD_KAFKA_NODES:-1}
[[ $nodes =~ ^[1-9][0-9]?$ ]] || {
  printf 'kafka.sh: error: HERALD_KAFKA_NODES must be a number from 1 to 99, got %s\n' "$nodes" >&2
  exit 2
}
if ((nodes == 1)); then
  run_root=${HERALD_KAFKA_RUN:-$kafka_home/run}
else
  run_root=${HERALD_KAFKA_RUN:-$kafka_home/cluster}
fi
host=${HERALD_KAFKA_HOST:-127.0.0.1}
start_timeout=${HERALD_KAFKA_START_TIMEOUT:-90}
stop_timeout=${HERALD_KAFKA_STOP_TIMEOUT:-30}
heap=${HERALD_KAFKA_HEAP:-512m}
# The node the commands below act on; select_node sets these (a single node: the run folder itself).
node_id=1
run_dir=$run_root
data_dir=$run_dir/data
pid_file=$run_dir/kafka.pid
port=${HERALD_KAFKA_PORT:-19092}
controller_port=${HERALD_KAFKA_CONTROLLER_PORT:-19093}
if ((nodes > 1)); then
  IFS=, read -r -a client_ports <<<"${HERALD_KAFKA_PORTS:-19192,19194,19196}"
  IFS=, read -r -a controller_ports <<<"${HERALD_KAFKA_CONTROLLER_PORTS:-19193,19195,19197}"
  if ((${#client_ports[@]} != nodes || ${#controller_ports[@]} != nodes)); then
    printf 'kafka.sh: error: HERALD_KAFKA_PORTS and HERALD_KAFKA_CONTROLLER_PORTS need %s ports each\n' "$nodes" >&2
    exit 2
  fi
fi
vectors_out=$repo_dir/packages/core/test/fixtures/kafka-partitioner-vectors.json

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"
}

# Holds an exclusive lock on fd 9 until the script exits, so two concurrent callers (parallel
# test runs, two developers' terminals) do not fetch or start twice.
lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if command -v flock >/dev/null 2>&1; then
    flock 9
  fi
}

fetch() {
  if [[ -f $libs_dir/.complete ]]; then
    log "Kafka $version jars cached in $libs_dir"
    return 0
  fi
  need java 'Kafka 4 needs a JDK 17 or newer'
  need mvn 'Maven fetches the jars from Maven Central'
  lock "$kafka_home/$version/.fetch.lock"
  if [[ -f $libs_dir/.complete ]]; then
    return 0
  fi
  log "fetching Kafka $version jars from Maven Central into $libs_dir"
  local tmp started=$SECONDS
  tmp=$(mktemp -d "$kafka_home/$version/libs.partial.XXXXXX")
  # Jars land in a temporary folder first: an interrupted fetch never looks like a cached one.
  # Debian's Maven prints colour resets even in batch mode; sed drops them (pipefail keeps mvn's status).
  if ! mvn -B -q -f "$pom" "-Dkafka.version=$version" "-Dkafka.libs=$tmp" package 2>&1 |
    sed $'s/\x1b\\[0m//g' >&2; then
    rm -rf "$tmp"
    die "mvn could not fetch Kafka $version"
  fi
  rm -rf "$libs_dir"
  mv "$tmp" "$libs_dir"
  touch "$libs_dir/.complete"
  log "fetched $(find "$libs_dir" -name '*.jar' | wc -l | tr -d ' ') jars in $((SECONDS - started)) s"
}

# Makes node $1 of the cluster the one the other functions act on: its folder, ports and id.
select_node() {
  node_id=$1
  run_dir=$run_root/node-$node_id
  data_dir=$run_dir/data
  pid_file=$run_dir/kafka.pid
  port=${client_ports[$((node_id - 1))]}
  controller_port=${controller_ports[$((node_id - 1))]}
}

# The static controller quorum: every node (one for a single node).
quorum_voters() {
  if ((nodes == 1)); then
    printf '1@%s:%s' "$host" "$controller_port"
    return
  fi
  local i voters=''
  for ((i = 1; i <= nodes; i++)); do
    voters+="${voters:+,}$i@$host:${controller_ports[$((i - 1))]}"
  done
  printf '%s' "$voters"
}

# Replication of every topic, internal ones included. One node: one replica, one in sync. A
# cluster: three replicas (N when fewer nodes), and an acks=all append needs two in sync.
replication_config() {
  if ((nodes == 1)); then
    cat <<EOF
# One broker: every topic, internal ones included, has one replica and needs one in sync.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
    return
  fi
  local replicas=$((nodes < 3 ? nodes : 3))
  local in_sync=$((replicas < 2 ? replicas : 2))
  cat <<EOF
# $nodes brokers: every topic, internal ones included, has $replicas replicas. An acks=all append
# is acknowledged once every in-sync replica has it and refused while fewer than $in_sync are in
# sync, so losing one node loses no acknowledged record.
num.partitions=1
default.replication.factor=$replicas
min.insync.replicas=$in_sync
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$in_sync
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$in_sync
EOF
}

# Writes the broker's configuration. Regenerated on every start so that edits here take effect;
# the data folder is what persists.
write_config() {
  mkdir -p "$run_dir"
  cat >"$run_dir/server.properties" <<EOF
# Generated by scripts/kafka/kafka.sh; edits are overwritten on the next start.
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$(quorum_voters)
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$controller_port
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data_dir

$(replication_config)

# Fewer partitions than the default 50 make the first group and the first transaction quicker.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Tests create their topics explicitly; a typo must fail, not create a topic.
auto.create.topics.enable=false
# The first member of a group gets its assignment at once instead of after 3 s.
group.initial.rebalance.delay.ms=0
EOF
  cat >"$run_dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka/kafka.sh. -->
<!-- No shutdown hook: the appender flushes every line, and Kafka logs while it shuts down. -->
<Configuration status="warn" shutdownHook="disable">
  <Appenders>
    <RollingFile name="server" fileName="$run_dir/server.log" filePattern="$run_dir/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="20 MB"/>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.log.LogCleaner" level="WARN"/>
    <Logger name="org.apache.kafka.storage" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
  </Loggers>
</Configuration>
EOF
}

# Command-line tools (StorageTool, TopicCommand, the vectors generator) log warnings to stderr so
# that their stdout stays machine-readable.
write_tools_log_config() {
  mkdir -p "$run_dir"
  cat >"$run_dir/log4j2-tools.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka/kafka.sh. -->
<Configuration status="warn">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="%p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
}

tool() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    "-Dlog4j2.configurationFile=$run_dir/log4j2-tools.xml" -cp "$libs_dir/*" "$@"
}

# True while process $1 exists and has not finished exiting. An exiting JVM loses its command
# line first, and its main thread shows as a zombie while other threads still hold its ports.
alive() {
  local state threads
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state == Z* ]] || return 0
  threads=$(ps -o nlwp= -p "$1" 2>/dev/null | tr -d ' ') || return 1
  [[ ${threads:-1} =~ ^[0-9]+$ ]] && ((threads > 1))
}

# True when $1 is a live process running our broker.
is_our_broker() {
  local args
  alive "$1" || return 1
  args=$(ps -o args= -p "$1" 2>/dev/null) || return 1
  [[ $args == *kafka.Kafka* && $args == *"$run_dir/server.properties"* ]]
}

running_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] && is_our_broker "$pid" || return 1
  printf '%s\n' "$pid"
}

port_open() {
  (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

# The broker is ready when a metadata request lists it, which KRaft does only once the broker
# has registered with the controller and been unfenced.
metadata_ok() {
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "$host:$port" -L -m 5 2>/dev/null | grep -q "broker $node_id at $host:$port"
  elif ((nodes == 1)); then
    tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$host:$port" --list \
      --command-config "$run_dir/tools-client.properties" >/dev/null 2>&1
  else
    # Lists every broker of the node's metadata as "host:port (id: N rack: ...) -> (...)".
    tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$host:$port" \
      --command-config "$run_dir/tools-client.properties" 2>/dev/null | grep -q "^$host:$port (id: $node_id "
  fi
}

# A cluster's nodes share one cluster id, kept beside their folders; a single node draws a new one.
cluster_id() {
  if ((nodes == 1)); then
    tool kafka.tools.StorageTool random-uuid
    return
  fi
  if [[ ! -s $run_root/cluster.id ]]; then
    tool kafka.tools.StorageTool random-uuid >"$run_root/cluster.id.partial"
    mv "$run_root/cluster.id.partial" "$run_root/cluster.id"
  fi
  cat "$run_root/cluster.id"
}

format_storage() {
  local cluster
  cluster=$(cluster_id)
  if [[ -f $data_dir/meta.properties && "$(cat "$data_dir/.herald-kafka-version" 2>/dev/null)" == "$version" ]] &&
    { ((nodes == 1)) || grep -qx "cluster.id=$cluster" "$data_dir/meta.properties"; }; then
    return 0
  fi
  if [[ -d $data_dir ]]; then
    log "data in $data_dir was not formatted by Kafka $version for this cluster; formatting it afresh"
    rm -rf "$data_dir"
  fi
  tool kafka.tools.StorageTool format -t "$cluster" -c "$run_dir/server.properties" >&2
  printf '%s\n' "$version" >"$data_dir/.herald-kafka-version"
  log "formatted KRaft storage for cluster $cluster in $data_dir"
}

# The node's name in messages: "the broker" for a single node, "node N" in a cluster.
node_name() {
  if ((nodes == 1)); then printf 'the broker'; else printf 'node %s' "$node_id"; fi
}

# Starts the selected node's JVM unless it runs; sets launched_pid (empty when it was running).
launched_pid=''
launch() {
  local pid
  launched_pid=''
  if pid=$(running_pid); then
    log "$(node_name) already running (pid $pid, Kafka $(cat "$run_dir/kafka.version" 2>/dev/null || echo '?'), $host:$port)"
    return 0
  fi
  rm -f "$pid_file"
  local p
  for p in "$port" "$controller_port"; do
    if port_open "$p"; then
      die "$host:$p is already in use by a process this script did not start"
    fi
  done
  write_config
  write_tools_log_config
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=5000\n' >"$run_dir/tools-client.properties"
  format_storage
  printf '%s\n' "$version" >"$run_dir/kafka.version"

  # setsid detaches the broker from the caller's process group (a test runner's Ctrl-C does not
  # kill it); the inner shell records its own pid and then becomes the JVM. The JVM must not
  # inherit the lock on fd 9, or every later start/stop would wait for the broker to exit.
  # shellcheck disable=SC2016 # $$ and $1 belong to the inner shell.
  setsid bash -c 'printf "%s\n" "$$" >"$1"; shift; exec "$@"' _ "$pid_file" \
    java "-Xmx$heap" "-Xms$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true "-Dkafka.logs.dir=$run_dir" \
    "-Dlog4j2.configurationFile=$run_dir/log4j2.xml" \
    -cp "$libs_dir/*" kafka.Kafka "$run_dir/server.properties" \
    </dev/null >>"$run_dir/kafka.out" 2>&1 9>&- &

  local deadline=$((SECONDS + start_timeout))
  while [[ ! -s $pid_file ]]; do
    ((SECONDS < deadline)) || die "$(node_name) process did not start"
    sleep 0.1
  done
  launched_pid=$(<"$pid_file")
}

# Waits until the selected node (launched as pid $1) answers metadata that lists it.
await_ready() {
  local pid=$1 deadline=$2
  while :; do
    if ! is_our_broker "$pid"; then
      tail -n 30 "$run_dir/server.log" "$run_dir/kafka.out" >&2 2>/dev/null || true
      rm -f "$pid_file"
      die "$(node_name) exited during start-up (logs above, in $run_dir)"
    fi
    if port_open "$port" && metadata_ok; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      log "$(node_name) not ready after ${start_timeout} s; stopping it"
      stop_pid "$pid"
      die "$(node_name) did not become ready (see $run_dir/server.log)"
    fi
    sleep 0.5
  done
}

# Sets target_nodes to the nodes a command acts on: node $1 when given (a cluster only), else
# every node.
target_nodes=()
select_targets() {
  if [[ -n ${1:-} ]]; then
    ((nodes > 1)) || die "a node number needs a cluster (HERALD_KAFKA_NODES > 1)"
    [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= nodes)) || die "no node $1 (nodes are 1 to $nodes)"
    target_nodes=("$1")
  else
    mapfile -t target_nodes < <(seq 1 "$nodes")
  fi
}

start() {
  fetch
  need java 'Kafka 4 needs a JDK 17 or newer'
  mkdir -p "$run_root"
  lock "$run_root/.lock"
  local started=$SECONDS
  select_targets "${1:-}"
  if ((nodes == 1)); then
    launch
    [[ -n $launched_pid ]] || return 0
    await_ready "$launched_pid" $((SECONDS + start_timeout))
    log "started Kafka $version (pid $launched_pid) on $host:$port in $((SECONDS - started)) s; logs in $run_dir"
    return 0
  fi
  # Every node's JVM starts before any is waited for: a controller quorum needs a majority up.
  local i deadline=$((SECONDS + start_timeout))
  local -a launched=()
  for i in "${target_nodes[@]}"; do
    select_node "$i"
    launch
    [[ -z $launched_pid ]] || launched+=("$i:$launched_pid")
  done
  local entry
  for entry in "${launched[@]}"; do
    select_node "${entry%%:*}"
    await_ready "${entry#*:}" "$deadline"
    log "node $node_id ready (pid ${entry#*:}) on $host:$port; logs in $run_dir"
  done
  ((${#launched[@]} == 0)) ||
    log "started ${#launched[@]} of $nodes nodes of Kafka $version in $((SECONDS - started)) s"
}

stop_pid() {
  local pid=$1 deadline=$((SECONDS + stop_timeout))
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "still running ${stop_timeout} s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while alive "$pid"; do
        ((SECONDS < deadline)) || die "pid $pid survived SIGKILL"
        sleep 0.2
      done
      break
    fi
    sleep 0.2
  done
  ports_closed "$pid"
  rm -f "$pid_file"
}

# Waits until the selected node's ports, held by pid $1 that has exited, refuse connections.
ports_closed() {
  local p deadline
  for p in "$port" "$controller_port"; do
    deadline=$((SECONDS + 10))
    while port_open "$p"; do
      ((SECONDS < deadline)) || die "pid $1 is gone but $host:$p still accepts connections"
      sleep 0.2
    done
  done
}

stop() {
  mkdir -p "$run_root"
  lock "$run_root/.lock"
  local pid started=$SECONDS
  if ((nodes == 1)); then
    if ! pid=$(running_pid); then
      rm -f "$pid_file"
      log "not running"
      return 0
    fi
    stop_pid "$pid"
    log "stopped (pid $pid) in $((SECONDS - started)) s"
    return 0
  fi
  # Every node gets SIGTERM at once: a node stopped alone waits for the others to take over
  # its partitions, which the last nodes of a stopping cluster cannot do.
  local i
  select_targets "${1:-}"
  for i in "${target_nodes[@]}"; do
    select_node "$i"
    if pid=$(running_pid); then
      kill -TERM "$pid" 2>/dev/null || true
    else
      rm -f "$pid_file"
    fi
  done
  for i in "${target_nodes[@]}"; do
    select_node "$i"
    if pid=$(running_pid); then
      stop_pid "$pid"
      log "node $i stopped (pid $pid)"
    fi
  done
  log "stopped in $((SECONDS - started)) s"
}

# SIGKILL, as a crash or a power cut of the node's process: no controlled shutdown, the data
# stays as the process left it. Waits until the process is gone and its ports are closed.
kill_nodes() {
  mkdir -p "$run_root"
  lock "$run_root/.lock"
  local i pid deadline
  select_targets "${1:-}"
  for i in "${target_nodes[@]}"; do
    ((nodes == 1)) || select_node "$i"
    if ! pid=$(running_pid); then
      rm -f "$pid_file"
      continue
    fi
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid"; do
      ((SECONDS < deadline)) || die "pid $pid survived SIGKILL"
      sleep 0.1
    done
    ports_closed "$pid"
    rm -f "$pid_file"
    log "$(node_name) killed (pid $pid)"
  done
}

status() {
  local pid
  if ((nodes == 1)); then
    if pid=$(running_pid); then
      printf 'running: pid %s, Kafka %s, bootstrap %s:%s, logs %s\n' \
        "$pid" "$(cat "$run_dir/kafka.version" 2>/dev/null || echo '?')" "$host" "$port" "$run_dir"
      return 0
    fi
    printf 'not running\n'
    return 3
  fi
  local i up=0
  for ((i = 1; i <= nodes; i++)); do
    select_node "$i"
    if pid=$(running_pid); then
      printf 'node %s running: pid %s, %s:%s, logs %s\n' "$i" "$pid" "$host" "$port" "$run_dir"
      up=$((up + 1))
    else
      printf 'node %s not running\n' "$i"
    fi
  done
  ((up == nodes)) || return 3
}

clean() {
  stop
  if ((nodes == 1)); then
    rm -rf "$data_dir"
    log "deleted $data_dir"
    return 0
  fi
  local i
  for ((i = 1; i <= nodes; i++)); do
    select_node "$i"
    rm -rf "$data_dir"
  done
  rm -f "$run_root/cluster.id"
  log "deleted the data of $nodes nodes in $run_root"
}

vectors() {
  fetch
  need java 'the generator is a single-file Java program'
  write_tools_log_config
  mkdir -p "$(dirname "$vectors_out")"
  tool "$script_dir/Murmur2Vectors.java" "$vectors_out"
  # The repository's `prettier --check` covers the fixture too.
  local node=$repo_dir/node_modules/.bin/node prettier=$repo_dir/node_modules/prettier/bin/prettier.cjs
  if [[ -x $node && -f $prettier ]]; then
    "$node" "$prettier" --log-level warn --write "$vectors_out"
  else
    log "prettier is not installed; run 'npm run format' before committing $vectors_out"
  fi
  log "wrote $vectors_out"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  kill) kill_nodes "${2:-}" ;;
  restart)
    stop
    start
    ;;
  status) status ;;
  clean) clean ;;
  vectors) vectors ;;
  -h | --help | help) usage ;;
  *)
    usage
    exit 2
    ;;
esac
