"""A small stand-in for the Hugging Face Hub's HTTP API, served on 127.0.0.1 for offline tests.

It implements the endpoints that ``huggingface_hub`` (and through it ``datasets`` and
``transformers``) call to create a repository, upload files, list them and download them:
``/api/repos/create``, ``/api/validate-yaml``, ``/api/whoami-v2``, repo info, ``preupload``, the git-LFS batch API
with the ``basic`` transfer (point ``HF_HUB_DISABLE_XET`` at it: the real Hub stores large files
with Xet, which this server does not speak), ``commit`` (NDJSON), ``tree``, ``paths-info`` and
``resolve``. Files live in memory; every request is recorded.

What a test against it proves: the sequence of requests the client sends and the exact bytes it
commits, and that what was committed can be read back by the same public client code. What it
does not prove: that the real Hub accepts those requests (authentication, YAML validation, LFS
rules, rate limits and the Xet storage path are not reproduced).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

REPO_TYPES = ("model", "dataset", "space")
_BINARY_SUFFIXES = (".safetensors", ".parquet", ".bin", ".arrow", ".pt", ".npy")


@dataclass
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes


@dataclass
class HubRepo:
    """A repository: its files (path -> bytes) and its commit history (newest last)."""

    repo_type: str
    repo_id: str
    private: bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    lfs_paths: set[str] = field(default_factory=set)
    commits: list[str] = field(default_factory=lambda: ["0" * 40])

    @property
    def head(self) -> str:
        return self.commits[-1]


def _git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class LocalHub:
    """The in-memory Hub and its HTTP server; use as a context manager.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``, the value for ``HF_ENDPOINT``.
        repos: ``(repo_type, repo_id) -> HubRepo``.
        requests: every request received, in order.
    """

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], HubRepo] = {}
        self.requests: list[RecordedRequest] = []
        self._lfs_store: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LocalHub":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def client_environment(self) -> dict[str, str]:
        """The variables that point a client process's ``huggingface_hub`` at this server, online, logged in."""
        return {"HF_ENDPOINT": self.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": "hf_local_test_token",
                "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}

    def repo(self, repo_id: str, repo_type: str = "model") -> HubRepo:
        """The stored repository (KeyError when it was never created)."""
        return self.repos[(repo_type, repo_id)]

    def calls(self, method: str, fragment: str) -> list[RecordedRequest]:
        """Recorded requests of ``method`` whose path contains ``fragment``."""
        return [r for r in self.requests if r.method == method and fragment in r.path]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _dispatch(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(self.command, unquote(split.path), parse_qs(split.query), body)
                with hub._lock:
                    hub.requests.append(request)
                    status, headers, payload = hub._route(request, self.headers.get("Content-Type", ""))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_HEAD = _dispatch

        return Handler

    # -- routing -------------------------------------------------------------------------------

    def _route(self, request: RecordedRequest, content_type: str) -> tuple[int, dict[str, str], bytes]:
        parts = request.path.strip("/").split("/")
        if request.path == "/api/repos/create":
            return self._create_repo(json.loads(request.body))
        if request.path == "/api/validate-yaml":
            return _json({"errors": [], "warnings": []})
        if request.path == "/api/whoami-v2":
            return _json({"type": "user", "name": "msmix-tester"})
        if parts[0] == "__lfs":
            return self._lfs_put(parts[1], request.body)
        if parts[0] == "api" and len(parts) >= 4 and parts[1].rstrip("s") in REPO_TYPES:
            repo_type, repo_id, rest = parts[1].rstrip("s"), "/".join(parts[2:4]), parts[4:]
            repo = self.repos.get((repo_type, repo_id))
            if repo is None:
                return _error(404, "RepoNotFound", f"Repository {repo_id} not found")
            return self._api(repo, rest, request, content_type)
        if request.path.endswith(".git/info/lfs/objects/batch"):
            return self._lfs_batch(json.loads(request.body))
        resolved = self._resolve_target(parts)
        if resolved is not None:
            repo, path = resolved
            if path not in repo.files:
                return _error(404, "EntryNotFound", f"{path} not found")
            content = repo.files[path]
            etag = hashlib.sha256(content).hexdigest() if path in repo.lfs_paths else _git_blob_oid(content)
            headers = {"X-Repo-Commit": repo.head, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"}
            return 200, headers, content
        return _error(404, "EntryNotFound", f"no route for {request.method} {request.path}")

    def _resolve_target(self, parts: list[str]) -> tuple[HubRepo, str] | None:
        if "resolve" not in parts:
            return None
        at = parts.index("resolve")
        prefix, repo_id = parts[:at], "/".join(parts[at - 2 : at])
        repo_type = prefix[0].rstrip("s") if len(prefix) == 3 else "model"
        repo = self.repos.get((repo_type, repo_id))
        return None if repo is None else (repo, "/".join(parts[at + 2 :]))

    def _create_repo(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
        if (repo_type, repo_id) in self.repos:
            return _error(409, "RepoExists", "You already created this repo")
        private = payload.get("visibility", "public") == "private" or bool(payload.get("private"))
        self.repos[(repo_type, repo_id)] = HubRepo(repo_type, repo_id, private=private)
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return _json({"url": f"{self.endpoint}/{prefix}{repo_id}", "name": repo_id})

    def _api(
        self, repo: HubRepo, rest: list[str], request: RecordedRequest, content_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        action = rest[0] if rest else "info"
        if action in ("info", "revision"):
            siblings = [{"rfilename": path} for path in sorted(repo.files)]
            return _json({"id": repo.repo_id, "sha": repo.head, "private": repo.private, "siblings": siblings})
        if action == "preupload":
            files = json.loads(request.body)["files"]
            return _json({"files": [self._upload_mode(f) for f in files]})
        if action == "commit":
            return self._commit(repo, request.body)
        if action == "tree":
            folder = "/".join(rest[2:])
            if folder and self._entry(repo, folder) is None:
                return _error(404, "EntryNotFound", f"{folder} does not exist")
            return _json(self._tree(repo, folder, request.query.get("recursive") == ["True"]))
        if action == "paths-info":
            form = parse_qs(request.body.decode()) if "form" in content_type else json.loads(request.body)
            return _json([entry for p in form.get("paths", []) if (entry := self._entry(repo, p)) is not None])
        return _error(404, "EntryNotFound", f"unsupported action {action!r}")

    @staticmethod
    def _upload_mode(file: dict[str, Any]) -> dict[str, Any]:
        sample = base64.b64decode(file["sample"])
        binary = file["path"].endswith(_BINARY_SUFFIXES) or b"\0" in sample
        return {"path": file["path"], "uploadMode": "lfs" if binary else "regular", "shouldIgnore": False}

    def _lfs_batch(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        objects = [
            {
                "oid": obj["oid"],
                "size": obj["size"],
                "authenticated": True,
                "actions": {"upload": {"href": f"{self.endpoint}/__lfs/{obj['oid']}"}},
            }
            for obj in payload["objects"]
        ]
        return _json({"transfer": "basic", "objects": objects})

    def _lfs_put(self, oid: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if hashlib.sha256(body).hexdigest() != oid:
            return _error(400, "BadRequest", "sha256 of the uploaded bytes does not match the oid")
        self._lfs_store[oid] = body
        return 200, {}, b""

    def _commit(self, repo: HubRepo, body: bytes) -> tuple[int, dict[str, str], bytes]:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, repo.head):
            return _error(412, "PreconditionFailed", "parent commit is not the head")
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            path = value["path"]
            if key == "file":
                repo.files[path] = base64.b64decode(value["content"])
                repo.lfs_paths.discard(path)
            elif key == "lfsFile":
                if value["oid"] not in self._lfs_store:
                    return _error(400, "BadRequest", f"LFS object of {path} was never uploaded")
                repo.files[path] = self._lfs_store[value["oid"]]
                repo.lfs_paths.add(path)
            elif key == "deletedFile":
                repo.files.pop(path, None)
            elif key == "deletedFolder":
                for name in [p for p in repo.files if p.startswith(path.rstrip("/") + "/")]:
                    del repo.files[name]
        sha = hashlib.sha1(f"{repo.head}{body!r}".encode()).hexdigest()
        repo.commits.append(sha)
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return _json({"commitUrl": f"{self.endpoint}/{prefix}{repo.repo_id}/commit/{sha}", "commitOid": sha})

    def _entry(self, repo: HubRepo, path: str) -> dict[str, Any] | None:
        path = path.strip("/")
        if path in repo.files:
            content = repo.files[path]
            entry: dict[str, Any] = {"type": "file", "path": path, "size": len(content), "oid": _git_blob_oid(content)}
            if path in repo.lfs_paths:
                entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 130}
            return entry
        if any(p.startswith(path + "/") for p in repo.files):
            return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}
        return None

    def _tree(self, repo: HubRepo, folder: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        names: set[str] = set()
        for path in repo.files:
            if not path.startswith(prefix):
                continue
            below = path[len(prefix) :].split("/")
            steps = range(1, len(below) + 1) if recursive else [1]
            names.update(prefix + "/".join(below[:n]) for n in steps)
        return [entry for name in sorted(names) if (entry := self._entry(repo, name)) is not None]


def _json(payload: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message}
    return status, headers, json.dumps({"error": message}).encode()
