"""The README's `ray job submit` command, run for real against a Ray head started with `ray start`.

The head runs on free loopback ports with token authentication on (Ray 2.60's default once a token
exists), in its own temporary directory (so `ray.init()` elsewhere never joins it), and with the
test S3 server's credentials in its environment, as a cluster's nodes would have an IAM role. The
command is taken from the README itself; only the head address is filled in and the runtime
environment's `pip` list is left out (the packages are installed here already).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest

from tests.s3server import free_ports

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def readme_job() -> tuple[dict[str, str], list[str]]:
    """(exported variables, `ray job submit ...` argv) of the README's "As a Ray job on a cluster" block."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### As a Ray job on a cluster", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    exported = shlex.split(next(line for line in lines if line.startswith("export ")), comments=True)[1:]
    command = shlex.split(next(line for line in lines if line.lstrip().startswith("ray job submit")))
    return dict(v.split("=", 1) for v in exported), command


def pip_names(requirements: list[str]) -> set[str]:
    from packaging.requirements import Requirement

    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


@pytest.fixture
def ray_head(s3_server):
    """(dashboard URL, client env with the token) of a `ray start --head --block` process, stopped by PID."""
    token = secrets.token_hex(32)
    gcs, dashboard, client, agent, agent_grpc, metrics, node, objects, runtime_env = free_ports(9)
    temp_dir = tempfile.mkdtemp(prefix="voxray-head-")
    env = {
        **os.environ,
        **s3_server.env(),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token,
        "RAY_USAGE_STATS_ENABLED": "0",
        # On SIGTERM a node drains for up to 30 s (for Serve replicas); the job is over by teardown.
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    }
    env.pop("RAY_ADDRESS", None)
    args = [
        str(BIN / "ray"), "start", "--head", "--block", "--disable-usage-stats", "--num-cpus=2",
        f"--temp-dir={temp_dir}", f"--port={gcs}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
        f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent}",
        f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
        f"--node-manager-port={node}", f"--object-manager-port={objects}", f"--runtime-env-agent-port={runtime_env}",
    ]  # fmt: skip
    log_path = Path(temp_dir) / "head.log"
    with open(log_path, "w") as log:
        head = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{dashboard}"
        try:
            _wait_http(url + "/api/version", head, log_path)
            # A job goes to the head's dashboard agent, which can come up after the dashboard: under
            # CI's load the dashboard's 10 s wait for it ran out ("No available agent to submit job").
            # The agent serves HTTP first and registers itself right after.
            _wait_http(f"http://127.0.0.1:{agent}/", head, log_path)
            client_env = {k: v for k, v in env.items() if not k.startswith(("RAY_AUTH_", "AWS_"))}
            yield url, client_env, token
        finally:
            # `ray start --block` stops the head's processes when it is terminated.
            head.send_signal(signal.SIGTERM)
            try:
                head.wait(timeout=30)
            except subprocess.TimeoutExpired:
                head.kill()
                head.wait()
    shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering (401 without a token): up
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"Ray dashboard not up at {url} after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def test_readme_runtime_env_lists_what_the_transcribe_path_imports() -> None:
    # voxray's runtime dependencies that `python -m jobs.cli transcribe` loads (in the driver, the
    # preparation tasks, which import models.features lazily, and the model actors), less those
    # ray[data,train,serve] brings itself.
    from importlib.metadata import packages_distributions, requires

    import tomllib
    from packaging.requirements import Requirement

    code = (
        "import sys, json, jobs.cli, jobs.transcribe, pipelines.batch.run, pipelines.batch.prepare, "
        "pipelines.batch.infer, models.whisper_ct2, models.features\nprint(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                       check=True).stdout)  # fmt: skip
    by_module = packages_distributions()
    imported = {d.lower().replace("_", "-") for m in loaded for d in by_module.get(m.split(".")[0], [])}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ray_brings = {
        Requirement(r).name.lower().replace("_", "-")
        for r in requires("ray") or []
        if Requirement(r).marker is None
        or any(Requirement(r).marker.evaluate({"extra": e}) for e in ("data", "train", "serve"))
    }
    needed = (pip_names(project) & imported) - ray_brings - {"ray"}
    _, command = readme_job()
    listed = pip_names(json.loads(command[command.index("--runtime-env-json") + 1])["pip"])
    assert {"torch", "torchaudio", "ctranslate2", "av"} <= needed
    assert needed <= listed, f"missing from the README's runtime env: {sorted(needed - listed)}"


def test_readme_ray_job_submit_transcribes_from_and_to_s3(ray_head, s3_server, speech_dir) -> None:
    url, client_env, token = ray_head
    exported, command = readme_job()
    s3_server.make_bucket("archive")
    s3_server.make_bucket("transcripts")
    clips = sorted(speech_dir.glob("0[1-3]_*.wav"))
    s3 = s3_server.client()
    for clip in clips:
        s3.upload_file(str(clip), "archive", f"calls/{clip.name}")
    address = command.index("--address") + 1
    runtime_env = command.index("--runtime-env-json") + 1
    assert command[address] == "http://HEAD:8265" and set(json.loads(command[runtime_env])) == {"pip"}
    command[address] = url
    command[runtime_env] = "{}"  # the packages a fresh cluster needs are installed here already
    command[0] = str(BIN / "ray")

    refused = subprocess.run(command, cwd=REPO, env=client_env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "Missing authentication token" in refused.stdout + refused.stderr

    # The README's exports, with this head's token.
    assert set(exported) == {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"} and exported["RAY_AUTH_MODE"] == "token"
    with_token = {**client_env, **exported, "RAY_AUTH_TOKEN": token}
    done = subprocess.run(command, cwd=REPO, env=with_token, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "succeeded" in output and "files: 3  rows: 3  ok: 3  failed: 0" in output
    fs = pafs.S3FileSystem(**s3_server.pyarrow_kwargs())
    rows = {
        r["path"]: r for r in pads.dataset("transcripts/calls", filesystem=fs, format="parquet").to_table().to_pylist()
    }
    assert sorted(rows) == [f"s3://archive/calls/{c.name}" for c in clips]
    assert all(r["status"] == "ok" and r["text"].strip() for r in rows.values())
