"""Deployment files parse and ask for the right resources; their entrypoints are valid voxray commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from jobs.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def load(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((REPO / name).read_text()) if doc]


@pytest.fixture(scope="module")
def cluster() -> dict:
    [doc] = load("cluster.yaml")
    return doc


@pytest.fixture(scope="module")
def rayjob() -> dict:
    [doc] = load("deploy/kuberay-rayjob.yaml")
    return doc


def parses_as_nightly(command: str) -> None:
    argv = shlex.split(command)
    assert argv[:2] == ["voxray", "nightly"]
    args = build_parser().parse_args(argv[1:])
    assert args.command == "nightly"


def test_cluster_launcher_has_a_head_and_autoscaling_cpu_and_gpu_worker_types(cluster):
    assert cluster["provider"]["type"] == "aws"
    types = cluster["available_node_types"]
    assert cluster["head_node_type"] in types
    workers = {k: v for k, v in types.items() if k != cluster["head_node_type"]}
    gpu = [v for v in workers.values() if v["resources"].get("GPU", 0) >= 1]
    cpu = [v for v in workers.values() if v["resources"].get("GPU", 0) == 0 and v["resources"].get("CPU", 0) > 0]
    assert len(gpu) == 1 and len(cpu) == 1
    assert gpu[0]["resources"].get("voxray_inference", 0) >= 1
    for worker in (gpu[0], cpu[0]):
        assert worker["min_workers"] == 0 < worker["max_workers"]  # scale to zero, up on demand
        assert worker["node_config"]["InstanceMarketOptions"]["MarketType"] == "spot"
    # The head runs only the driver: work must not land on the one node that is not spot.
    assert types[cluster["head_node_type"]]["resources"].get("CPU") == 0
    assert "InstanceMarketOptions" not in types[cluster["head_node_type"]]["node_config"]
    assert any("pip install" in c and "voxray" in c for c in cluster["setup_commands"])
    assert cluster["file_mounts"]["~/voxray"] == "."


def test_rayjob_runs_voxray_nightly_with_cpu_and_gpu_worker_groups(rayjob):
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    spec = rayjob["spec"]
    parses_as_nightly(spec["entrypoint"])
    assert spec["shutdownAfterJobFinishes"] is True
    cluster_spec = spec["rayClusterSpec"]
    assert cluster_spec["enableInTreeAutoscaling"] is True
    assert cluster_spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    groups = {g["groupName"]: g for g in cluster_spec["workerGroupSpecs"]}

    def limits(group: dict) -> dict:
        return group["template"]["spec"]["containers"][0]["resources"]["limits"]

    gpu = [g for g in groups.values() if "nvidia.com/gpu" in limits(g)]
    cpu = [g for g in groups.values() if "nvidia.com/gpu" not in limits(g)]
    assert len(gpu) == 1 and len(cpu) == 1
    assert int(limits(gpu[0])["nvidia.com/gpu"]) >= 1
    custom = json.loads(json.loads(gpu[0]["rayStartParams"]["resources"]))
    assert custom["voxray_inference"] >= 1
    for group in gpu + cpu:
        assert group["minReplicas"] == 0 < group["maxReplicas"]


def test_cronjob_creates_the_rayjob_nightly_one_at_a_time():
    docs = {d["kind"]: d for d in load("deploy/cronjob.yaml")}
    cron = docs["CronJob"]
    schedule = cron["spec"]["schedule"]
    fields = schedule.split()
    assert len(fields) == 5 and all(re.fullmatch(r"[\d*/,-]+", f) for f in fields)
    assert fields[2:] == ["*", "*", "*"]  # every day
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"  # one writer per output
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    script = " ".join(pod["containers"][0]["args"])
    assert "kubectl create -f /etc/voxray-rayjob/rayjob.yaml" in script
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    [rule] = docs["Role"]["rules"]
    assert rule["apiGroups"] == ["ray.io"] and "rayjobs" in rule["resources"] and "create" in rule["verbs"]
    assert docs["RoleBinding"]["roleRef"]["name"] == docs["Role"]["metadata"]["name"]


def test_documented_ray_job_submit_command_is_valid():
    text = (REPO / "docs" / "nightly.md").read_text()
    block = re.search(r"```bash\n(ray job submit.*?)```", text, re.S)
    assert block, "docs/nightly.md shows a `ray job submit` command"
    argv = shlex.split(block.group(1).replace("\\\n", " "))
    runtime_env = json.loads(argv[argv.index("--runtime-env-json") + 1])
    assert "env_vars" in runtime_env
    parses_as_nightly(" ".join(shlex.quote(a) for a in argv[argv.index("--") + 1 :]))


def test_spot_workers_drain_on_notice_next_to_an_on_demand_head(rayjob):
    """Issue 27: the head (driver, job state) is on demand; spot workers drain before they go."""
    cluster_spec = rayjob["spec"]["rayClusterSpec"]
    head = cluster_spec["headGroupSpec"]["template"]["spec"]
    assert head["nodeSelector"]["karpenter.sh/capacity-type"] == "on-demand"
    for group in cluster_spec["workerGroupSpecs"]:
        pod = group["template"]["spec"]
        assert pod["nodeSelector"]["karpenter.sh/capacity-type"] == "spot"
        command = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert command[:2] == ["ray", "drain-node"] and "--reason=DRAIN_NODE_REASON_PREEMPTION" in command
        deadline = int(next(a for a in command if a.startswith("--deadline-remaining-seconds=")).split("=")[1])
        assert pod["terminationGracePeriodSeconds"] > deadline  # the drain finishes before the SIGKILL
