"""The emulated account: moto_server on 127.0.0.1 with what the Terraform would create.

Resources get the names the generated Terraform gives them (read by rehearse/terraform.py);
the API-key secret is created empty, as Terraform leaves it, and seeded by `keys ensure`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from compiler.rehearse.terraform import Deploy

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


MOTO_DEFAULT_ACCOUNT = "123456789012"


class Moto:
    """A moto_server process; use as a context manager."""

    def __init__(self, account_id: str = MOTO_DEFAULT_ACCOUNT) -> None:
        beside = Path(sys.executable).parent / "moto_server"
        found = str(beside) if beside.exists() else shutil.which("moto_server")
        if found is None:
            raise RuntimeError("moto_server is not installed (pip install 'moto[server]')")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [found, "-H", "127.0.0.1", "-p", str(self.port)]
        self._process: subprocess.Popen[bytes] | None = None
        # The spec's account.id: commands that refuse another account's credentials
        # (`servespec model push`) see the environment's own account.
        self._env = {**os.environ, "MOTO_ACCOUNT_ID": account_id}

    def __enter__(self) -> Moto:
        os.environ.update(CREDENTIALS)
        self._process = subprocess.Popen(
            self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self._env
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self._process.returncode}")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1)
                return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("moto_server did not start within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


def client(service: str, moto: Moto, region: str) -> Any:
    import boto3

    session = boto3.session.Session(region_name=region)
    return session.client(service, endpoint_url=moto.url)


def create_account(deploy: Deploy, moto: Moto, region: str) -> dict[str, str]:
    """KMS key and alias, model bucket, empty API-key secret; returns the refs they resolve."""
    kms = client("kms", moto, region)
    key = kms.create_key(Description="rehearsal")["KeyMetadata"]
    kms.create_alias(AliasName=deploy.key_alias, TargetKeyId=key["KeyId"])
    s3 = client("s3", moto, region)
    s3.create_bucket(Bucket=deploy.bucket, CreateBucketConfiguration={"LocationConstraint": region})
    refs = {"aws_kms_key.main.arn": key["Arn"], "aws_s3_bucket.models.id": deploy.bucket}
    if deploy.secret_name is not None:
        secrets = client("secretsmanager", moto, region)
        created = secrets.create_secret(Name=deploy.secret_name, KmsKeyId=key["Arn"])
        refs["aws_secretsmanager_secret.api_keys.arn"] = created["ARN"]
        refs["aws_secretsmanager_secret.api_keys.id"] = created["ARN"]
    return refs


def account_id(moto: Moto, region: str) -> str:
    return str(client("sts", moto, region).get_caller_identity()["Account"])
