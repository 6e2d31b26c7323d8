#!/usr/bin/env bash
# A ZooKeeper 3.8 for trying proxymgr out: standalone, on 127.0.0.1 only, data in .tmp/zookeeper.
#   bash scripts/zookeeper.sh start [PORT]    (default 2181; installs Debian's zookeeper and Java if missing)
#   bash scripts/zookeeper.sh stop
# Not for production: one server, no authentication.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.tmp/zookeeper
port="${2:-2181}"
case "${1:-}" in
  start)
    bash scripts/install-deps.sh --zookeeper >&2
    mkdir -p "$dir/data"
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "zookeeper: already running (pid $(cat "$dir/pid"))" >&2
      exit 0
    fi
    cat > "$dir/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$PWD/$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,mntr,cons
CFG
    nohup java -Xmx256m -XX:+UseSerialGC -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/zookeeper.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 100); do
      if [ "$(node -e "const s=require('net').connect($port,'127.0.0.1',()=>s.write('ruok'));s.on('data',d=>{process.stdout.write(String(d));s.end()});s.on('error',()=>process.exit(0))")" = imok ]; then
        echo "zookeeper: serving on 127.0.0.1:$port (pid $(cat "$dir/pid"), log $dir/zookeeper.log)" >&2
        exit 0
      fi
      sleep 0.2
    done
    echo "zookeeper: did not start; see $dir/zookeeper.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      kill "$pid" 2>/dev/null || true
      # Wait for the port to be free, so that a start right after works.
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$dir/pid"
    fi
    echo "zookeeper: stopped" >&2
    ;;
  *)
    echo "usage: bash scripts/zookeeper.sh start [PORT] | stop" >&2
    exit 2
    ;;
esac
