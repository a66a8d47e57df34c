"""The load benchmark says why a replica was lost under load (exit signal, OOM kills, its log, nginx's log)."""

from __future__ import annotations

import subprocess

from bench import bench_load
from scripts.serve import Cluster, Replica


def test_a_killed_replica_is_reported_with_its_signal_and_the_last_log_lines(tmp_path):
    log = tmp_path / "replica-0.log"
    log.write_text("starting\nwarm-up finished in 20.0 s\nlast words\n")
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx" / "error.log").write_text("upstream prematurely closed connection\n")
    process = subprocess.Popen(["sleep", "60"])
    replica = Replica(8660, log, process)
    running = Cluster("http://127.0.0.1:8660", [replica], tmp_path)
    replica.kill()
    reason = bench_load._why_lost(running, replica, oom_kills_before=bench_load._oom_kills())
    assert "exited with signal 9" in reason
    assert "OOM kills during the run: 0" in reason
    assert "last words" in reason and "upstream prematurely closed" in reason
