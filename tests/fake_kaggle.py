"""A fake Kaggle on 127.0.0.1 that the real `kaggle` client talks to, so tests never touch the network.

The client (KAGGLE_API_ENVIRONMENT=LOCALHOST) sends `POST http://localhost/api/v1/<service>/<method>` with
JSON; HTTP_PROXY points requests at this server, which therefore sees absolute URLs. Downloads answer with a
redirect to /files/...; errors answer {"code": N, "message": ...} with status N, as Kaggle does.

Usage in a test file (pytest puts tests/ on sys.path):

    from fake_kaggle import FakeKaggle, kaggle_env, make_zip

    @pytest.fixture
    def fake(monkeypatch, tmp_path):
        with FakeKaggle().serve() as server:
            kaggle_env(monkeypatch, tmp_path, server)
            yield server

    def test_download(fake, tmp_path):
        fake.add_competition("dogs-vs-cats", make_zip({"sampleSubmission.csv": b"id,label\\n"}))
        harness.kaggle_io.download(Source("competition", "dogs-vs-cats"), tmp_path / "raw")
"""
import base64
import contextlib
import csv
import io
import itertools
import json
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

RULES_MESSAGE = "You must accept this competition's rules before you'll be able to download files."
DEFAULT_MESSAGES = {401: "Unauthenticated", 403: RULES_MESSAGE, 404: "Not found", 429: "Too Many Requests",
                    500: "Internal Server Error"}
COMPETITIONS = "competitions.CompetitionApiService"
SLOW_PIECE_S = 0.05  # a slow download sends a piece of its body this often
DATASETS = "datasets.DatasetApiService"
KERNEL_LOG = '[{"stream_name":"stdout","time":1.5,"data":"harness kernel: packages: tensorflow\\n"}]'


def make_zip(files: dict) -> bytes:
    """A zip archive (bytes) holding {member name: bytes}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def leaderboard_zip(slug: str, rows) -> bytes:
    """<slug>.zip as Kaggle's leaderboard download: <slug>-publicleaderboard.csv, rows (team id, name, date, score)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["TeamId", "TeamName", "SubmissionDate", "Score"])
    writer.writerows(rows)
    return make_zip({f"{slug}-publicleaderboard.csv": buf.getvalue().encode()})


def dogs_vs_cats_zip() -> bytes:
    """dogs-vs-cats.zip in the real layout, tiny: train.zip, test1.zip and sampleSubmission.csv."""
    train = make_zip({"train/cat.1.jpg": b"\xff\xd8cat", "train/dog.1.jpg": b"\xff\xd8dog"})
    test = make_zip({"test1/1.jpg": b"\xff\xd8one"})
    return make_zip({"train.zip": train, "test1.zip": test, "sampleSubmission.csv": b"id,label\n1,0\n"})


class FakeKaggle:
    """The state of the fake Kaggle: files it serves, failures it injects, submissions it scores, a request log."""
    USERNAME = "fake-user"
    KEY = "fake-key-5b1e0c3d9a7f"
    TOKEN = "KGAT_fake-token-2d8e4f6a"

    def __init__(self):
        self.files = {}  # "/files/..." -> archive bytes
        self.slow = {}  # "/files/..." -> seconds its body takes to send
        self.failures = []  # [{status, times, retry_after, message, method}]
        self.damaged = {}  # slug -> {"times": n or None, "html": bool}
        self.rules_required = set()
        self.results = {}  # slug -> {"public_score", "error", "pending_polls"}
        self.submissions = {}  # slug -> [submission dicts], newest first
        self.uploads = {}  # token -> bytes
        self.blobs = {}  # token -> file name, for uploads started with StartBlobUpload (dataset files)
        self.datasets = {}  # "owner/slug" -> [{file name: bytes}], one dict per version
        self.dataset_errors = {}  # slug -> the error CreateDataset answers with
        self.kernels = {}  # "owner/slug" -> [SaveKernel bodies], one per version
        self.kernel_runs = {}  # kernel slug -> how its runs end (see set_kernel_run)
        self.log = []  # [{"verb", "path", "method", "body"}]
        self._lock = threading.Lock()
        self._refs = itertools.count(1001)
        self._tokens = itertools.count(1)
        self._server = None

    # --- configuring -------------------------------------------------------------------------

    def add_competition(self, slug: str, archive_bytes: bytes, seconds: float = 0.0) -> None:
        """Serve `archive_bytes` as <slug>.zip for the competition `slug`, spread over about `seconds`."""
        self.files[f"/files/competitions/{slug}/{slug}.zip"] = archive_bytes
        self.slow[f"/files/competitions/{slug}/{slug}.zip"] = seconds

    def add_dataset(self, ref: str, archive_bytes: bytes) -> None:
        """Serve `archive_bytes` as the dataset "owner/slug"."""
        owner, slug = ref.split("/")
        self.files[f"/files/datasets/{owner}/{slug}/{slug}.zip"] = archive_bytes

    def add_leaderboard(self, slug: str, rows) -> None:
        """Serve the public leaderboard of `slug`: rows (team id, team name, submission date, score)."""
        self.files[f"/files/competitions/{slug}/leaderboard/{slug}.zip"] = leaderboard_zip(slug, rows)

    def fail_next(self, status: int, times: int = 1, retry_after=None, message=None, method=None) -> None:
        """Answer the next `times` API calls (optionally only those to `method`) with HTTP `status`."""
        self.failures.append({"status": status, "times": times, "retry_after": retry_after,
                              "message": message or DEFAULT_MESSAGES.get(status, "Error"), "method": method})

    def truncate(self, slug: str, times=None, html: bool = False) -> None:
        """Serve `slug`'s archive cut in half (or as an HTML page) `times` times; None means always."""
        self.damaged[slug] = {"times": times, "html": html}

    def require_rules(self, slug: str) -> None:
        """Refuse downloads and submissions for `slug` with 403 until the rules are 'accepted'."""
        self.rules_required.add(slug)

    def set_result(self, slug: str, public_score=None, error=None, pending_polls: int = 1) -> None:
        """How Kaggle scores uploads to `slug`: pending for `pending_polls` listings, then a score or an error."""
        self.results[slug] = {"public_score": public_score, "error": error, "pending_polls": pending_polls}

    def refuse_dataset(self, slug: str, error: str) -> None:
        """Answer CreateDataset for `slug` with `error`, as Kaggle does for a title or slug already in use."""
        self.dataset_errors[slug] = error

    def set_kernel_run(self, slug: str, status: str = "COMPLETE", files=None, log: str = KERNEL_LOG, failure=None,
                       running_polls: int = 1) -> None:
        """How runs of kernel `slug` end: RUNNING for `running_polls` status checks, then `status` (COMPLETE or
        ERROR, with `failure`), leaving `files` {name: bytes} and `log` (Kaggle's JSON list of stream records)."""
        self.kernel_runs[slug] = {"status": status, "files": files or {}, "log": log, "failure": failure,
                                  "running_polls": running_polls}

    def calls(self, method=None) -> list:
        """Logged requests, optionally only those to API method `method` (e.g. "DownloadDataFiles")."""
        return [entry for entry in self.log if method is None or entry["method"] == method]

    # --- running -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "FakeKaggle":
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextlib.contextmanager
    def serve(self):
        """Run the server for the block."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # --- answering (called from the handler) -------------------------------------------------

    def take_failure(self, method: str):
        """The injected failure for this call, if any, counting it down."""
        with self._lock:
            for failure in self.failures:
                if failure["method"] in (None, method) and failure["times"] > 0:
                    failure["times"] -= 1
                    return failure
        return None

    def file_body(self, path: str):
        """The bytes served at `path`, damaged when truncate() asked for it; None when unknown."""
        data = self.files.get(path)
        slug = path.rsplit("/", 1)[-1][:-len(".zip")]
        damage = self.damaged.get(slug)
        if data is None or damage is None or damage["times"] == 0:
            return data
        with self._lock:
            if damage["times"] is not None:
                damage["times"] -= 1
        return b"<!DOCTYPE html><html><body>Error</body></html>" if damage["html"] else data[:len(data) // 2]

    def submit(self, slug: str, body: dict) -> dict:
        """Record a CreateSubmission call as a new pending submission."""
        result = self.results.get(slug, {"public_score": None, "error": None, "pending_polls": 0})
        sub = {"ref": next(self._refs), "description": body.get("submissionDescription", ""),
               "fileName": "submission.csv", "date": "2024-01-01T00:00:00.000Z", "status": "PENDING",
               "_polls_left": result["pending_polls"], "_result": result}
        self.submissions.setdefault(slug, []).insert(0, sub)
        return {"message": "Successfully submitted to " + slug, "ref": sub["ref"]}

    def new_token(self) -> str:
        return f"blob-{next(self._tokens)}"

    def dataset_version(self, ref: str, files: list) -> dict:
        """Record a new version of dataset `ref` made of uploaded blobs [{token, ...}]; returns Kaggle's answer."""
        self.datasets.setdefault(ref, []).append({self.blobs[f["token"]]: self.uploads[f["token"]] for f in files})
        return {"ref": ref, "url": f"https://www.kaggle.com/datasets/{ref}", "status": "ok", "error": None}

    def save_kernel(self, body: dict) -> dict:
        """Record a pushed kernel version; sources Kaggle would refuse come back as invalid, as Kaggle answers."""
        ref = body["slug"]
        bad_competitions = [c for c in body.get("competitionDataSources", []) if c in self.rules_required]
        bad_datasets = [d for d in body.get("datasetDataSources", []) if d not in self.datasets]
        if bad_competitions or bad_datasets:
            return {"ref": "", "url": "", "invalidCompetitionSources": bad_competitions,
                    "invalidDatasetSources": bad_datasets}
        self.kernels.setdefault(ref, []).append(body)
        run = self.kernel_runs.setdefault(ref.split("/")[1], {"status": "COMPLETE", "files": {}, "log": KERNEL_LOG,
                                                              "failure": None, "running_polls": 0})
        run["_polls_left"] = run["running_polls"]
        for name, data in run["files"].items():
            self.files[f"/files/kernels/{ref}/{name}"] = data
        return {"ref": f"/code/{ref}", "url": f"https://www.kaggle.com/code/{ref}",
                "versionNumber": len(self.kernels[ref])}

    def kernel_status(self, ref: str):
        """RUNNING while polls are left, then how the run was set to end; None for a kernel never pushed."""
        if ref not in self.kernels:
            return None
        run = self.kernel_runs[ref.split("/")[1]]
        if run["_polls_left"] > 0:
            run["_polls_left"] -= 1
            return {"status": "RUNNING"}
        return {"status": run["status"], "failureMessage": run["failure"]}

    def list_submissions(self, slug: str) -> dict:
        """Submissions newest first, each advancing from PENDING to COMPLETE or ERROR as it is polled."""
        out = []
        for sub in self.submissions.get(slug, []):
            _advance(sub)
            out.append({k: v for k, v in sub.items() if not k.startswith("_")})
        return {"submissions": out, "nextPageToken": ""}


def _advance(sub: dict) -> None:
    """Move one submission a step towards its configured result."""
    if sub["status"] != "PENDING":
        return
    if sub["_polls_left"] > 0:
        sub["_polls_left"] -= 1
        return
    result = sub["_result"]
    if result["error"]:
        sub.update(status="ERROR", errorDescription=result["error"])
    else:
        sub.update(status="COMPLETE", publicScore="" if result["public_score"] is None
                   else str(result["public_score"]))


class _Handler(BaseHTTPRequestHandler):
    """Routes the client's requests (absolute URLs, since it arrives as a proxy) to the FakeKaggle."""

    def log_message(self, *args):
        pass

    @property
    def fake(self) -> FakeKaggle:
        return self.server.fake

    def _path(self) -> str:
        return unquote(urlsplit(self.path).path)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked_body()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _chunked_body(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    def _send(self, status: int, body: bytes, content_type: str, headers=None, seconds: float = 0.0) -> None:
        """Answer with `body`; `seconds` > 0 sends it in pieces at an even pace, a slow link taking that long."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        pieces = max(1, round(seconds / SLOW_PIECE_S)) if seconds > 0 else 1
        step = max(1, -(-len(body) // pieces))
        for start in range(0, len(body), step):
            if start:
                time.sleep(seconds / pieces)
            self.wfile.write(body[start:start + step])
            self.wfile.flush()

    def _json(self, obj: dict, status: int = 200, headers=None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _error(self, status: int, message=None, retry_after=None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        self._json({"code": status, "message": message or DEFAULT_MESSAGES.get(status, "Error")}, status, headers)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"{FakeKaggle.USERNAME}:{FakeKaggle.KEY}".encode()).decode()
        return auth in (basic, f"Bearer {FakeKaggle.TOKEN}")

    def do_GET(self):
        path = self._path()
        self.fake.log.append({"verb": "GET", "path": path, "method": "file", "body": None})
        data = self.fake.file_body(path)
        if data is None:
            return self._error(404)
        self._send(200, data, "application/zip", seconds=self.fake.slow.get(path, 0.0))

    def do_PUT(self):
        path, data = self._path(), self._body()
        self.fake.log.append({"verb": "PUT", "path": path, "method": "upload", "body": None})
        self.fake.uploads[path.rsplit("/", 1)[-1]] = data
        self._send(200, b"", "text/plain")

    def do_POST(self):
        path = self._path()
        body = json.loads(self._body() or b"{}")
        method = path.rsplit("/", 1)[-1]
        self.fake.log.append({"verb": "POST", "path": path, "method": method, "body": body})
        if method == "IntrospectToken":
            return self._json({"active": body.get("token") == FakeKaggle.TOKEN, "username": FakeKaggle.USERNAME})
        failure = self.fake.take_failure(method)
        if failure:
            return self._error(failure["status"], failure["message"], failure["retry_after"])
        if not self._authorized():
            return self._error(401)
        self._route(path, method, body)

    def _route(self, path: str, method: str, body: dict) -> None:
        slug = body.get("competitionName", "")
        if slug in self.fake.rules_required:
            return self._error(403)
        if method == "DownloadDataFiles":
            return self._redirect(f"/files/competitions/{slug}/{slug}.zip")
        if method == "DownloadLeaderboard":
            return self._redirect(f"/files/competitions/{slug}/leaderboard/{slug}.zip")
        if method == "DownloadDataset":
            owner, name = body.get("ownerSlug"), body.get("datasetSlug")
            return self._redirect(f"/files/datasets/{owner}/{name}/{name}.zip")
        if method in ("StartSubmissionUpload", "StartBlobUpload"):
            token = self.fake.new_token()
            self.fake.blobs[token] = body.get("name", "")
            return self._json({"token": token, "createUrl": f"http://localhost/upload/{token}"})
        if method == "CreateSubmission":
            return self._json(self.fake.submit(slug, body))
        if method == "ListSubmissions":
            return self._json(self.fake.list_submissions(slug))
        if method in ("GetDatasetStatus", "CreateDataset", "CreateDatasetVersion"):
            return self._dataset(method, body)
        if method in ("SaveKernel", "GetKernelSessionStatus", "ListKernelSessionOutput"):
            return self._kernel(method, body)
        if method == "CreateCodeSubmission":
            if f"{body.get('kernelOwner')}/{body.get('kernelSlug')}" not in self.fake.kernels:
                return self._error(404, "Kernel not found")
            return self._json(self.fake.submit(slug, body))
        self._error(404, f"The fake Kaggle does not implement {path}")

    def _dataset(self, method: str, body: dict) -> None:
        ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug') or body.get('slug')}"
        if method == "CreateDataset":
            if body["slug"] in self.fake.dataset_errors:
                return self._json({"status": "error", "error": self.fake.dataset_errors[body["slug"]]})
            return self._json(self.fake.dataset_version(ref, body.get("files", [])))
        if ref not in self.fake.datasets:
            return self._error(404)
        if method == "GetDatasetStatus":
            return self._json({"status": "READY"})
        self._json(self.fake.dataset_version(ref, body["body"].get("files", [])))

    def _kernel(self, method: str, body: dict) -> None:
        if method == "SaveKernel":
            return self._json(self.fake.save_kernel(body))
        ref = f"{body.get('userName')}/{body.get('kernelSlug')}"
        status = self.fake.kernel_status(ref) if method == "GetKernelSessionStatus" else ref in self.fake.kernels
        if not status:
            return self._error(404, "Kernel not found")
        if method == "GetKernelSessionStatus":
            return self._json(status)
        run = self.fake.kernel_runs[ref.split("/")[1]]
        self._json({"files": [{"fileName": name, "url": f"http://localhost/files/kernels/{ref}/{name}"}
                              for name in run["files"]], "log": run["log"]})

    def _redirect(self, file_path: str) -> None:
        """Answer a download the way Kaggle does: a redirect to the file, or 404 for an unknown slug."""
        if file_path not in self.fake.files:
            return self._error(404)
        self.send_response(302)
        self.send_header("Location", "http://localhost" + file_path)
        self.send_header("Content-Length", "0")
        self.end_headers()


def kaggle_env(monkeypatch, tmp_path, server: FakeKaggle, credentials: bool = True):
    """Point the real client at `server`: local endpoint, proxy to its port, fake legacy credentials, empty HOME."""
    proxy = f"http://127.0.0.1:{server.port}"
    home, config = tmp_path / "kaggle-home", tmp_path / "kaggle-config"
    home.mkdir(exist_ok=True)
    config.mkdir(exist_ok=True)
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)  # https too: a misconfigured client still reaches only the fake
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "KAGGLE_API_TOKEN", "KAGGLE_USERNAME",
                 "KAGGLE_KEY", "XDG_CONFIG_HOME", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(config))
    if credentials:
        monkeypatch.setenv("KAGGLE_USERNAME", FakeKaggle.USERNAME)
        monkeypatch.setenv("KAGGLE_KEY", FakeKaggle.KEY)
    return config
