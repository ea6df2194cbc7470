#!/usr/bin/env python3
"""A change-data-capture tool's prerequisites, with boto3 over TLS.

Usage: scenario_secure.py BINARY

The tool's documentation asks for: a TLS connection trusting a CA bundle; an account whose
policy allows kinesis:PutRecords and kinesis:DescribeStream on
arn:aws:kinesis:REGION:ACCOUNT:stream/NAME and kinesis:ListStreams on *; the target stream
and its exceptions stream existing beforehand. This script makes a CA with `tributary cert`,
writes a config with exactly that user and policy, starts the server itself (TLS, port 0),
and checks what is allowed, what is denied (with AWS's message), and that a wrong secret,
an unknown key, a stale date and a tampered body each get their AWS error.
The last line is always "secure: N passed, M failed".
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY, SECRET = "AKIAREPLICATOREXAMPL", "replicator/secret+KEY0123456789abcdefghij"
TARGET = "cdc-target"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["kinesis:PutRecords", "kinesis:DescribeStream"],
            "Resource": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{TARGET}",
        },
        {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*"},
    ],
}

passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1


def error_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("the call should have failed")


def start(binary, work):
    subprocess.run([binary, "cert", "--out", work, "--san", "localhost", "--san", "127.0.0.1"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(work, "secret"), "w") as f:
        f.write(SECRET)
    config = os.path.join(work, "tributary.toml")
    with open(config, "w") as f:
        f.write(
            f'account_id = "{ACCOUNT}"\n'
            f'tls_cert = "{work}/server.pem"\ntls_key = "{work}/server-key.pem"\n'
            f'[[streams]]\nname = "{TARGET}"\nshard_count = 2\n'
            f'[[streams]]\nname = "attrep_apply_exceptions"\nshard_count = 1\n'
            f'[[streams]]\nname = "elsewhere"\nshard_count = 1\n'
            f'[[users]]\nname = "replicator"\naccess_key_id = "{KEY}"\n'
            f'secret_access_key_file = "{work}/secret"\n'
            f"policies = ['''{json.dumps(POLICY)}''']\n"
        )
    proc = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"), "--config", config],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.log"), "w"), text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("TRIBUTARY_LISTENING "):
            return proc, line.split()[1]
        if proc.poll() is not None:
            break
    raise AssertionError("the server did not start; see " + os.path.join(work, "server.log"))


def client(endpoint, ca, key=KEY, secret=SECRET):
    return boto3.client(
        "kinesis", endpoint_url=f"https://localhost:{endpoint.rsplit(':', 1)[1]}", region_name=REGION,
        aws_access_key_id=key, aws_secret_access_key=secret, verify=ca,
        config=Config(retries={"total_max_attempts": 1}),
    )


def raw_signed(endpoint, ca, target, body, when=None, tamper=False):
    """Signs a request with botocore's SigV4 signer, optionally at another time or with the
    body changed after signing, and sends it trusting only the CA bundle."""
    url = f"https://localhost:{endpoint.rsplit(':', 1)[1]}/"
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=url, data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Kinesis_20131202.{target}"},
    )
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(KEY, SECRET), "kinesis", REGION)
    if when is not None:
        real = botocore.auth.datetime.datetime

        class Frozen(real):
            @classmethod
            def utcnow(cls):
                return when

            @classmethod
            def now(cls, tz=None):
                return when.replace(tzinfo=tz) if tz else when

        botocore.auth.datetime.datetime = Frozen
        try:
            signer.add_auth(req)
        finally:
            botocore.auth.datetime.datetime = real
    else:
        signer.add_auth(req)
    data = body + " " if tamper else body
    http = urllib3.PoolManager(ca_certs=ca, cert_reqs="CERT_REQUIRED")
    r = http.request("POST", url, body=data.encode(), headers=dict(req.headers.items()))
    return r.status, json.loads(r.data or b"{}")


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="tributary-secure-")
    proc, endpoint = start(binary, work)
    ca = os.path.join(work, "ca.pem")
    try:
        c = client(endpoint, ca)
        names = c.list_streams()["StreamNames"]
        check(TARGET in names and "attrep_apply_exceptions" in names, f"ListStreams sees the declared streams: {names}")
        d = c.describe_stream(StreamName=TARGET)["StreamDescription"]
        check(d["StreamStatus"] == "ACTIVE" and len(d["Shards"]) == 2, "DescribeStream on the target")
        out = c.put_records(StreamName=TARGET, Records=[{"Data": b"row-%d" % i, "PartitionKey": str(i)} for i in range(50)])
        check(out["FailedRecordCount"] == 0, "PutRecords on the target")

        user = f"arn:aws:iam::{ACCOUNT}:user/replicator"
        code, msg = error_of(lambda: c.put_record(StreamName=TARGET, Data=b"x", PartitionKey="k"))
        check(code == "AccessDeniedException", f"PutRecord is denied: {code}")
        check(msg == f"User: {user} is not authorized to perform: kinesis:PutRecord on resource: "
              f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{TARGET} because no identity-based policy allows the kinesis:PutRecord action", msg)
        code, msg = error_of(lambda: c.create_stream(StreamName="new-one", ShardCount=1))
        check(code == "AccessDeniedException" and "kinesis:CreateStream" in msg, f"CreateStream is denied: {code} {msg}")
        code, msg = error_of(lambda: c.put_records(StreamName="elsewhere", Records=[{"Data": b"x", "PartitionKey": "k"}]))
        check(code == "AccessDeniedException" and msg.endswith("stream/elsewhere because no identity-based policy allows the kinesis:PutRecords action"), msg)

        code, msg = error_of(lambda: client(endpoint, ca, secret="wrong").list_streams())
        check(code == "InvalidSignatureException", f"a wrong secret: {code}")
        code, msg = error_of(lambda: client(endpoint, ca, key="AKIANOBODY0000000000").list_streams())
        check(code == "UnrecognizedClientException" and msg == "The security token included in the request is invalid.", f"an unknown key: {code} {msg}")
        stale = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
        status, body = raw_signed(endpoint, ca, "ListStreams", "{}", when=stale)
        check(status == 400 and body.get("__type") == "InvalidSignatureException" and "Signature expired" in body.get("message", ""), f"a stale date: {status} {body}")
        status, body = raw_signed(endpoint, ca, "ListStreams", "{}")
        check(status == 200, f"the same request signed now passes: {status} {body}")
        status, body = raw_signed(endpoint, ca, "DescribeStream", json.dumps({"StreamName": TARGET}), tamper=True)
        check(status == 400 and body.get("__type") == "InvalidSignatureException", f"a tampered body: {status} {body}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"secure: {passed} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL {e}")
        print(f"secure: {passed} passed, 1 failed")
        sys.exit(1)
