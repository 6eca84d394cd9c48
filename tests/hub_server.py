"""A Hugging Face Hub-compatible HTTP server, so tests run the real ``huggingface_hub`` client.

It serves the endpoints the client 2.4 uses to create repos, commit files, list and download them
at a branch or a commit. Every file is committed inline ("regular" upload mode), so neither LFS nor
Xet is needed. Blobs are stored in a folder, named by their git blob sha1; repos, commits and
branches are kept in memory. Tokens: one with write access, one read-only; any other is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

USER = "tester"
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_API = re.compile(
    r"^/api/(models|datasets|spaces)/([^/]+/[^/]+?)"
    r"(?:/(revision|tree|preupload|commit)/([^/]+)(?:/(.*))?)?$"
)
_VARIABLES = re.compile(r"^/api/spaces/([^/]+/[^/]+)/variables$")
_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a file's content, which the client compares to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubHTTPError(Exception):
    """An error response: the client turns ``X-Error-Code`` into its typed exceptions."""

    def __init__(
        self, status: int, message: str, code: str | None = None, commit: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit


@dataclass
class Commit:
    oid: str
    parent: str | None
    files: dict[str, str]  # path -> blob sha1
    title: str
    date: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # a Space's environment

    def resolve(self, revision: str) -> Commit:
        """A branch name or a full commit sha; anything else is the client's RevisionNotFound."""
        oid = self.branches.get(revision, revision)
        if oid not in self.commits:
            raise HubHTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[oid]

    def history(self, branch: str = "main") -> list[str]:
        """Commit ids reachable from ``branch``, newest first."""
        oids: list[str] = []
        oid: str | None = self.branches[branch]
        while oid is not None:
            oids.append(oid)
            oid = self.commits[oid].parent
        return oids


class LocalHub:
    """The server state; ``start()`` serves it on 127.0.0.1 at a free port."""

    def __init__(self, storage: Path, *, write_token: str, read_token: str):
        self.blobs = Path(storage) / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.tokens = {write_token: "write", read_token: "read"}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[str] = []  # "METHOD path status" of each request served
        self.lock = threading.Lock()
        self.endpoint = ""
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> str:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.hub = self  # type: ignore[attr-defined]
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self.endpoint

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        found = self.repos.get((repo_type, repo_id))
        if found is None:
            raise HubHTTPError(404, f"Repository not found: {repo_id}", "RepoNotFound")
        return found

    def read_blob(self, oid: str) -> bytes:
        return (self.blobs / oid).read_bytes()

    # Handlers, called with the parsed request; ``scope`` is None, "read" or "write".

    def create_repo(self, body: dict, scope: str | None) -> tuple[int, dict]:
        namespace = body.get("organization") or USER
        repo_id, repo_type = f"{namespace}/{body['name']}", body.get("type") or "model"
        _require_write(scope, f"create a {repo_type} under the namespace {namespace}")
        if repo_type == "space" and body.get("sdk") not in (
            "gradio",
            "streamlit",
            "docker",
            "static",
        ):
            raise HubHTTPError(400, "A Space needs a valid sdk")
        url = f"{self.endpoint}/{_URL_PREFIX[repo_type]}{repo_id}"
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                return 409, {"error": f"You already created this {repo_type} repo", "url": url}
            private = body.get("private") or body.get("visibility") == "private"
            repo = Repo(repo_type, repo_id, bool(private), body.get("sdk"))
            self.repos[(repo_type, repo_id)] = repo
            self._add_commit(repo, "main", {}, "initial commit")
        return 200, {"url": url, "name": repo_id}

    def repo_info(self, repo: Repo, revision: str) -> dict:
        commit = repo.resolve(revision)
        info: dict[str, Any] = {
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "lastModified": commit.date,
            "tags": [],
            "siblings": [
                {"rfilename": path, "size": (self.blobs / oid).stat().st_size, "blobId": oid}
                for path, oid in sorted(commit.files.items())
            ],
        }
        if repo.repo_type == "space":
            info["sdk"] = repo.sdk
        return info

    def tree(self, repo: Repo, revision: str, path: str, recursive: bool) -> list[dict]:
        commit = repo.resolve(revision)
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        entries: dict[str, dict] = {}
        for file_path, oid in commit.files.items():
            if not file_path.startswith(prefix):
                continue
            parts = file_path[len(prefix) :].split("/")
            # A recursive listing holds every folder on the way; a flat one only the first level.
            for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
                folder = prefix + "/".join(parts[:depth])
                entries[folder] = {"type": "directory", "path": folder, "oid": _folder_oid(folder)}
            if recursive or len(parts) == 1:
                size = (self.blobs / oid).stat().st_size
                entries[file_path] = {"type": "file", "path": file_path, "size": size, "oid": oid}
        if prefix and not entries:
            raise HubHTTPError(404, f"{path} does not exist on {revision}", "EntryNotFound")
        return [entries[key] for key in sorted(entries)]

    def preupload(self, repo: Repo, revision: str, body: dict, scope: str | None) -> dict:
        _require_write(scope, f"write to {repo.repo_id}")
        files = repo.resolve(revision).files
        return {
            "files": [
                {
                    "path": item["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": files.get(item["path"]),
                }
                for item in body["files"]
            ]
        }

    def commit(self, repo: Repo, branch: str, lines: list[dict], scope: str | None) -> dict:
        _require_write(scope, f"write to {repo.repo_id}")
        if branch not in repo.branches:
            repo.resolve(branch)  # RevisionNotFound for an unknown name
            raise HubHTTPError(400, f"Cannot commit to {branch}: not a branch")
        header = next(line["value"] for line in lines if line["key"] == "header")
        with self.lock:
            head = repo.commits[repo.branches[branch]]
            parent = header.get("parentCommit")
            if parent and not head.oid.startswith(parent):
                raise HubHTTPError(412, f"Branch {branch} moved: head is {head.oid}, not {parent}")
            files = dict(head.files)
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "file":
                    files[value["path"]] = self._write_blob(base64.b64decode(value["content"]))
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise HubHTTPError(
                            404, "A file with this name doesn't exist", "EntryNotFound"
                        )
                elif key == "deletedFolder":
                    folder = value["path"].rstrip("/") + "/"
                    files = {p: oid for p, oid in files.items() if not p.startswith(folder)}
                elif key != "header":
                    raise HubHTTPError(400, f"This test Hub only accepts inline files, not {key}")
            commit = self._add_commit(repo, branch, files, header["summary"])
        url = f"{self.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
        return {"success": True, "commitOid": commit.oid, "commitUrl": url, "pullRequestUrl": None}

    def set_variable(self, repo: Repo, body: dict, scope: str | None) -> dict:
        _require_write(scope, f"configure {repo.repo_id}")
        with self.lock:
            repo.variables[body["key"]] = body["value"]
        return {key: {"value": value} for key, value in repo.variables.items()}

    def _write_blob(self, data: bytes) -> str:
        oid = git_blob_sha1(data)
        (self.blobs / oid).write_bytes(data)
        return oid

    def _add_commit(self, repo: Repo, branch: str, files: dict[str, str], title: str) -> Commit:
        parent = repo.branches.get(branch)
        stamp = f"{repo.repo_id}\n{parent}\n{sorted(files.items())}\n{title}\n{time.time_ns()}"
        date = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        commit = Commit(hashlib.sha1(stamp.encode()).hexdigest(), parent, files, title, date)
        repo.commits[commit.oid] = commit
        repo.branches[branch] = commit.oid
        return commit


def _require_write(scope: str | None, action: str) -> None:
    if scope is None:
        raise HubHTTPError(401, f"You must be authenticated to {action}")
    if scope != "write":
        raise HubHTTPError(403, f"You don't have the rights to {action}: this token is read-only")


def _folder_oid(path: str) -> str:
    return hashlib.sha1(f"tree {path}".encode()).hexdigest()


def _validate_yaml(body: dict) -> tuple[int, dict]:
    """Check the README's YAML front matter, as the Hub does before accepting a commit."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", body.get("content", ""), re.DOTALL)
    if match:
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError as err:
            return 400, {"errors": [{"message": f"Invalid YAML: {err}"}], "warnings": []}
        if data is not None and not isinstance(data, dict):
            return 400, {"errors": [{"message": "Metadata must be a YAML mapping"}], "warnings": []}
    return 200, {"errors": [], "warnings": []}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects from the Hub

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the hub records requests in ``LocalHub.requests`` instead

    def _handle(self, method: str) -> None:
        hub: LocalHub = self.server.hub  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            scope = self._scope(hub)
            status, payload, headers = self._route(
                hub, method, url.path, parse_qs(url.query), body, scope
            )
        except HubHTTPError as err:
            status, payload = err.status, json.dumps({"error": err.message}).encode()
            headers = {"Content-Type": "application/json", "X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            if err.commit:
                headers["X-Repo-Commit"] = err.commit
        hub.requests.append(f"{method} {self.path} {status}")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def _scope(self, hub: LocalHub) -> str | None:
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        scope = hub.tokens.get(auth.removeprefix("Bearer ").strip())
        if scope is None:
            # The exact message the client uses to tell a bad token from a missing repo.
            raise HubHTTPError(401, "Invalid credentials in Authorization header")
        return scope

    def _route(
        self, hub: LocalHub, method: str, path: str, query: dict, body: bytes, scope: str | None
    ) -> tuple[int, bytes, dict[str, str]]:
        if method == "POST" and path == "/api/repos/create":
            status, data = hub.create_repo(json.loads(body), scope)
            return _json(status, data)
        if method == "POST" and path == "/api/validate-yaml":
            return _json(*_validate_yaml(json.loads(body)))
        if method == "POST" and (match := _VARIABLES.match(path)):
            repo = self._visible_repo(hub, match.group(1), "space", scope)
            return _json(200, hub.set_variable(repo, json.loads(body), scope))
        if match := _API.match(path):
            kind, repo_id, action, revision, sub_path = match.groups()
            repo = self._visible_repo(hub, repo_id, _TYPES[kind], scope)
            revision = unquote(revision or "main")
            if method == "GET" and action in (None, "revision"):
                return _json(200, hub.repo_info(repo, revision))
            if method == "GET" and action == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return _json(200, hub.tree(repo, revision, unquote(sub_path or ""), recursive))
            if method == "POST" and action == "preupload":
                return _json(200, hub.preupload(repo, revision, json.loads(body), scope))
            if method == "POST" and action == "commit":
                if query.get("create_pr"):
                    raise HubHTTPError(400, "This test Hub does not support pull requests")
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                return _json(200, hub.commit(repo, revision, lines, scope))
        if method in ("GET", "HEAD") and (match := _RESOLVE.match(path)):
            kind, repo_id, revision, file_path = match.groups()
            repo_type = _TYPES[kind] if kind else "model"
            repo = self._visible_repo(hub, repo_id, repo_type, scope)
            commit = repo.resolve(unquote(revision))
            oid = commit.files.get(unquote(file_path))
            if oid is None:
                raise HubHTTPError(404, "Entry not found", "EntryNotFound", commit=commit.oid)
            headers = {
                "Content-Type": "application/octet-stream",
                "ETag": f'"{oid}"',
                "X-Repo-Commit": commit.oid,
            }
            return 200, hub.read_blob(oid), headers
        raise HubHTTPError(404, f"{method} {path} is not served by this test Hub")

    @staticmethod
    def _visible_repo(hub: LocalHub, repo_id: str, repo_type: str, scope: str | None) -> Repo:
        repo = hub.repo(unquote(repo_id), repo_type)
        if repo.private and scope is None:
            raise HubHTTPError(404, f"Repository not found: {repo_id}", "RepoNotFound")
        return repo


def _json(status: int, data: Any) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(data).encode(), {"Content-Type": "application/json"}
