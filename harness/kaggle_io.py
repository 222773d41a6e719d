"""The only module that talks to Kaggle: download and unpack a source, upload a submission, read its score.

Every failure of the official client becomes one HarnessError sentence with the credentials scrubbed out.
"""
import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from harness import archives, atomic, progress
from harness.errors import HarnessError

RATE_LIMIT_TRIES = 4  # attempts on 429 before giving up
RATE_LIMIT_CAP_S = 30.0  # never wait longer than this between attempts, whatever Retry-After says
SETTINGS_URL = "https://www.kaggle.com/settings"
LOGIN_HELP = ("log in with one of: KAGGLE_API_TOKEN (or a token in ~/.kaggle/access_token), ~/.kaggle/kaggle.json, "
              f"or KAGGLE_USERNAME + KAGGLE_KEY; create a token at {SETTINGS_URL}")
DATASET_TIMEOUT_S, DATASET_POLL_S = 1800.0, 10.0  # Kaggle processes a new dataset version in minutes
KERNEL_TIMEOUT_S, KERNEL_POLL_S = 9 * 3600.0, 30.0  # a notebook session may run up to nine hours
KERNEL_DONE = ("complete", "error", "cancel_acknowledged")
_sleep = time.sleep  # tests replace this to keep backoff and polling instant


def download(source, dest: Path) -> Path:
    """Download a competition's or dataset's files, unpack them beside `dest` and swap them in as `dest`.

    It always downloads: whether a finished `dest` can be kept is the caller's question (harness.download)."""
    dest = Path(dest)
    if source.kind not in ("competition", "dataset"):
        raise HarnessError(f"Only Kaggle competitions and datasets can be downloaded. Received: source kind "
                           f"{source.kind!r} ({source.slug!r}).")
    dest.parent.mkdir(parents=True, exist_ok=True)
    _download_fresh(source, dest)
    return dest


def upload(slug: str, csv_path: Path, message: str) -> int:
    """Upload a submission file to competition `slug`; returns its ref (Kaggle scores it later: wait_for_score)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise HarnessError(f"Cannot upload {csv_path}: no such file; write the submission first.")
    api = _api()
    with _client_progress(f"upload {csv_path.name}"):
        result = _call(lambda: api.competition_submit(str(csv_path), message, slug, quiet=False),
                       f"uploading {csv_path.name} to competition {slug}", _competition(slug))
    text = getattr(result, "message", "") or ""
    if text == api.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE:
        raise HarnessError(f"Kaggle did not accept the upload of {csv_path} to competition {slug} ({text}); "
                           f"check the daily submission limit on {_competition(slug).url}, then try again.")
    return _submission_ref(result, slug)


def submission_state(slug: str, ref: int) -> dict:
    """Submission `ref` of `slug` as {status, public_score, error, description}: that one, whatever else was
    submitted since (two uploads at once must not record each other's score)."""
    api = _api()
    subs = _call(lambda: api.competition_submissions(slug), f"listing submissions of {slug}", _competition(slug))
    sub = next((s for s in subs or [] if s is not None and getattr(s, "ref", None) == ref), None)
    if sub is None:
        raise HarnessError(f"Competition {slug} does not list submission {ref} among this account's latest "
                           f"submissions; see {_competition(slug).url}/submissions.")
    return _submission_state(sub)


def wait_for_score(slug: str, ref: int, timeout_s: float = 600.0, poll_s: float = 10.0) -> dict:
    """Poll submission `ref` until Kaggle has scored or rejected it, or `timeout_s` passes; returns its state."""
    return _wait(lambda: submission_state(slug, ref), lambda state: state["status"] != "pending", timeout_s, poll_s,
                 f"submission {ref}", show=lambda state: state["status"])


def _submission_ref(result, slug: str) -> int:
    """The ref Kaggle gave a new submission, which the listing is matched on."""
    ref = getattr(result, "ref", None)
    if not ref:
        raise HarnessError(f"Kaggle accepted a submission to {slug} but returned no reference for it "
                           f"({scrub(getattr(result, 'message', '') or 'no message')}); see "
                           f"{_competition(slug).url}/submissions.")
    return int(ref)


def _submission_state(sub) -> dict:
    """Reduce the client's ApiSubmission to plain values: status pending|complete|error, score as a float."""
    status = getattr(getattr(sub, "status", None), "name", str(getattr(sub, "status", ""))).lower()
    status = status if status in ("pending", "complete", "error") else "pending"
    score = getattr(sub, "public_score", None)
    try:
        score = float(score) if score not in (None, "") else None
    except (TypeError, ValueError):
        score = None
    return {"status": status, "public_score": score, "error": getattr(sub, "error_description", None) or None,
            "description": getattr(sub, "description", None) or ""}


def scrub(text: str) -> str:
    """Replace every known secret (API key, access token) in `text` with '***'."""
    text = str(text)
    for secret in sorted(_secrets(), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --- code competitions: a dataset, a kernel that reads it, a submission of the kernel's output -------

def username() -> str:
    """The Kaggle user the credentials belong to (the owner of datasets and kernels pushed with them)."""
    api = _api()
    name = api.config_values.get(api.CONFIG_NAME_USER)
    if not name:
        raise HarnessError(f"The Kaggle credentials name no user; {LOGIN_HELP}.")
    return name


def push_dataset(folder: Path, notes: str) -> str:
    """Create the dataset described by folder/dataset-metadata.json, or add a version to it when it exists, and
    wait until Kaggle has processed the files; returns "created" or "new version"."""
    ref = atomic.read_json(Path(folder) / "dataset-metadata.json")["id"]
    source, api = _dataset(ref), _api()
    exists = _call(lambda: _dataset_status(api, ref), f"looking up dataset {ref}", source) is not None
    with _client_progress(f"upload {ref}"):
        if exists:
            result = _call(lambda: api.dataset_create_version(str(folder), notes, quiet=False),
                           f"uploading a new version of dataset {ref}", source)
        else:
            result = _call(lambda: api.dataset_create_new(str(folder), public=False, quiet=False),
                           f"creating dataset {ref}", source)
    if getattr(result, "error", None):
        raise HarnessError(f"Kaggle refused {'a new version of' if exists else 'to create'} dataset {ref} "
                           f"({scrub(result.error)}); pass another name with --dataset, or delete the old dataset "
                           f"at {source.url}.")
    status = _wait(lambda: _call(lambda: _dataset_status(api, ref), f"checking dataset {ref}", source) or "pending",
                   lambda status: status in ("ready", "failed"), DATASET_TIMEOUT_S, DATASET_POLL_S, f"dataset {ref}")
    if status != "ready":
        raise HarnessError(f"Kaggle has not made dataset {ref} ready (status {status}); open {source.url} to see "
                           f"why, then push again.")
    return "new version" if exists else "created"


def push_kernel(folder: Path) -> int:
    """Push the kernel in `folder` (kernel-metadata.json and its code file); Kaggle runs it. Returns its version."""
    ref = atomic.read_json(Path(folder) / "kernel-metadata.json")["id"]
    api = _api()
    result = _call(lambda: api.kernels_push(str(folder)), f"pushing kernel {ref}", None)
    if getattr(result, "error", None):
        raise HarnessError(f"Kaggle refused kernel {ref}: {scrub(result.error)}.")
    for slug in result.invalid_competition_sources or []:
        raise HarnessError(f"Kaggle would not attach competition {slug} to kernel {ref}: accept its rules at "
                           f"{_competition(slug).url}/rules, then push again.")
    for dataset in result.invalid_dataset_sources or []:
        raise HarnessError(f"Kaggle would not attach dataset {dataset} to kernel {ref}: check that "
                           f"{_dataset(dataset).url} exists for this account and has finished processing, then push "
                           f"again.")
    return int(result.version_number or 0)


def wait_for_kernel(ref: str, timeout_s: float = KERNEL_TIMEOUT_S) -> dict:
    """Poll kernel `ref` until its run ends (or `timeout_s` passes), saying its status: {status, failure}."""
    api = _api()

    def state():
        result = _call(lambda: api.kernels_status(ref), f"checking kernel {ref}", None)
        status = getattr(getattr(result, "status", None), "name", str(getattr(result, "status", ""))).lower()
        return {"status": status, "failure": getattr(result, "failure_message", None) or None}
    return _wait(state, lambda s: s["status"] in KERNEL_DONE, timeout_s, KERNEL_POLL_S, f"kernel {ref}",
                 show=lambda s: s["status"])


def kernel_output(ref: str, dest: Path) -> Path:
    """Download what kernel `ref`'s last run wrote (and its log, <slug>.log) into `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    api = _api()
    _call(lambda: api.kernels_output(ref, str(dest), force=True, quiet=True), f"downloading the output of kernel "
          f"{ref}", None)
    return dest


def submit_code(slug: str, kernel: str, version: int, file_name: str, message: str) -> int:
    """Submit `file_name` as written by version `version` of kernel `kernel` to code competition `slug`; Kaggle
    reruns the kernel on the hidden test images. Returns the submission's ref (see wait_for_score)."""
    api = _api()
    result = _call(lambda: api.competition_submit_code(file_name, message, slug, kernel=kernel, kernel_version=version,
                                                       quiet=True),
                   f"submitting kernel {kernel} to competition {slug}", _competition(slug))
    return _submission_ref(result, slug)


def _dataset_status(api, ref: str):
    """A dataset's processing status ("ready", "failed", ...), or None when Kaggle has no such dataset."""
    import requests
    try:
        return api.dataset_status(ref)
    except requests.HTTPError as e:
        if _status(e) == 404:
            return None
        raise


def _dataset(ref: str):
    from harness.competition import Source
    return Source("dataset", ref)


def _wait(poll, done, timeout_s: float, poll_s: float, what: str, show=str):
    """Call `poll` until `done(state)` or `timeout_s` passes, saying each new state; returns the last state."""
    started = time.monotonic()
    deadline, last = started + timeout_s, None
    with progress.bar(desc=what, unit="poll") as bar:
        while True:
            state = poll()
            bar.update(1)
            if show(state) != last:
                last = show(state)
                bar.set_postfix_str(last, refresh=False)  # drawn with the next update, after the bar's delay
                progress.say(f"kaggle: {what} {last} after {time.monotonic() - started:.0f}s")
            if done(state) or time.monotonic() >= deadline:
                return state
            _sleep(max(0.0, min(poll_s, deadline - time.monotonic())))


# --- the public leaderboard --------------------------------------------------------------------

def download_leaderboard(slug: str, dest: Path) -> Path:
    """Download competition `slug`'s public leaderboard; its CSV is kept as dest/<slug>-publicleaderboard.csv."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    api = _api()
    work = Path(tempfile.mkdtemp(prefix=".leaderboard-", dir=dest))
    try:
        _call(lambda: api.competition_leaderboard_download(slug, str(work), quiet=True),
              f"downloading the public leaderboard of {slug}", _competition(slug))
        data = _leaderboard_csv(work / f"{slug}.zip", slug)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = dest / f"{slug}-publicleaderboard.csv"
    atomic.write_bytes(out, data)
    return out


def _leaderboard_csv(archive: Path, slug: str) -> bytes:
    """The leaderboard CSV inside the downloaded zip (or the file itself, should Kaggle send it unzipped)."""
    if not zipfile.is_zipfile(archive):
        data = archive.read_bytes() if archive.is_file() else b""
        if data.removeprefix(b"\xef\xbb\xbf").startswith(b"TeamId"):
            return data
        raise HarnessError(f"The public leaderboard of {slug} arrived damaged (neither a zip nor a CSV, "
                           f"{len(data)} bytes); run the command again later.")
    with zipfile.ZipFile(archive) as zf:
        names = sorted(n for n in zf.namelist() if n.lower().endswith(".csv"))
        if not names:
            raise HarnessError(f"The public leaderboard archive of {slug} holds no CSV (it holds "
                               f"{zf.namelist()}); Kaggle may have changed its format.")
        wanted = next((n for n in names if n.endswith("publicleaderboard.csv")), names[0])
        return zf.read(wanted)


# --- downloading ---------------------------------------------------------------------------------

def _download_fresh(source, dest: Path) -> None:
    """Fetch into a temp folder beside `dest`, unpack there, then swap it in."""
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.download-", dir=dest.parent))
    try:
        unpacked = _fetch_and_unpack(source, work)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(unpacked, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch_and_unpack(source, work: Path) -> Path:
    """Download and extract once; a corrupt archive is deleted and fetched one more time."""
    api = _api()
    for attempt in (1, 2):
        files, unpacked = work / f"files{attempt}", work / f"unpacked{attempt}"
        try:
            _fetch(api, source, files)
            _unpack(files, unpacked)
            return unpacked
        except archives.CorruptArchive as e:
            shutil.rmtree(files, ignore_errors=True)
            shutil.rmtree(unpacked, ignore_errors=True)
            if attempt == 2:
                raise archives.CorruptArchive(f"The archive of {source.kind} {source.slug} arrived corrupt twice "
                                              f"(last: {e}); try again later or download it by hand from "
                                              f"{source.url}.") from None


def _fetch(api, source, folder: Path) -> None:
    """Have the official client write the source's archive into `folder`, showing its progress."""
    folder.mkdir(parents=True)
    if source.kind == "competition":
        def fetch():
            return api.competition_download_files(source.slug, path=str(folder), force=True, quiet=False)
    else:
        def fetch():
            return api.dataset_download_files(source.slug, path=str(folder), force=True, quiet=False, unzip=False)
    with _client_progress(f"download {source.slug}"):
        _call(fetch, f"downloading {source.kind} {source.slug}", source)


def _unpack(files: Path, unpacked: Path) -> None:
    """Extract each downloaded zip into `unpacked`; any other file is moved there as it is."""
    unpacked.mkdir(parents=True)
    for path in sorted(files.iterdir()):
        if path.name.endswith(".kaggle-partial"):
            continue
        if path.suffix.lower() == ".zip":
            archives.extract_all(path, unpacked)
        else:
            shutil.move(str(path), unpacked / path.name)


# --- the client and its errors -------------------------------------------------------------------

def _api():
    """An authenticated KaggleApi that follows the environment as it is now (not as it was at import)."""
    try:
        with _quiet():
            from kaggle.api.kaggle_api_extended import KaggleApi
    except (Exception, SystemExit) as e:
        raise HarnessError(f"The kaggle package could not be loaded ({scrub(e)}); install it with the "
                           f"project's dependencies, then {LOGIN_HELP}.") from None
    api = KaggleApi()
    api.args = ["--local"] if os.environ.get("KAGGLE_API_ENVIRONMENT") == "LOCALHOST" else []
    api.config_dir = str(_config_dir())
    api.config = os.path.join(api.config_dir, "kaggle.json")
    try:
        with _quiet():
            api.authenticate()
    except SystemExit:
        raise HarnessError(f"No usable Kaggle credentials were found; {LOGIN_HELP}.") from None
    except Exception as e:
        raise _explain(e, "logging in to Kaggle", None) from None
    return api


def _call(fn, what: str, source):
    """Run one client call, retrying on 429 within bounds, and turn any failure into a HarnessError."""
    for attempt in range(1, RATE_LIMIT_TRIES + 1):
        try:
            with _quiet():
                return fn()
        except HarnessError:
            raise
        except Exception as e:
            if _status(e) != 429 or attempt == RATE_LIMIT_TRIES:
                raise _explain(e, what, source, attempt) from None
            _sleep(_retry_delay(e, attempt))


def _explain(e: Exception, what: str, source, attempts: int = 1) -> HarnessError:
    """One sentence for a client failure: what happened and what to do next."""
    import requests
    status = _status(e)
    if status is None and isinstance(e, requests.exceptions.ConnectionError):
        return HarnessError(f"Cannot reach Kaggle while {what} ({type(e).__name__}); check the network connection "
                            f"and any proxy settings, then run the command again.")
    if status == 401:
        return HarnessError(f"Kaggle rejected the credentials while {what} (401 Unauthorized): the API key or token "
                            f"is wrong or expired; create a new token at {SETTINGS_URL} and log in again.")
    if status == 403 and source is not None:
        return HarnessError(_forbidden_text(source, what))
    if status == 404 and source is not None:
        return HarnessError(f"Kaggle has no {source.kind} named {source.slug!r} (404 Not Found while {what}); "
                            f"check the spelling, or run `harness list` to see the known competitions.")
    if status == 429:
        return HarnessError(f"Kaggle kept rate limiting the requests (429 Too Many Requests, {attempts} attempts "
                            f"while {what}); wait a few minutes and run the command again.")
    if isinstance(e, ValueError) and "does not match expected size" in str(e):
        return archives.CorruptArchive(f"The download was cut short while {what} ({e}).")
    code = f"HTTP {status}" if status else type(e).__name__
    return HarnessError(f"The Kaggle client failed while {what} ({code}: {_short(e)}); try again later.")


def _forbidden_text(source, what: str) -> str:
    """403: the rules (competition) or terms (dataset) have not been accepted on the website."""
    if source.kind == "competition":
        return (f"Kaggle refused access to competition {source.slug} (403 Forbidden while {what}): accept its "
                f"rules at https://www.kaggle.com/c/{source.slug}/rules, then run the command again.")
    return (f"Kaggle refused access to {source.kind} {source.slug} (403 Forbidden while {what}): open {source.url}, "
            f"accept its terms, and check the account may see it, then run the command again.")


def _status(e: Exception):
    """The HTTP status of a client exception: from its response, else parsed from its message."""
    response = getattr(e, "response", None)
    code = getattr(response, "status_code", None)
    if isinstance(code, int):
        return code
    text = str(e)
    match = re.search(r"\b([45]\d\d)\b(?= -| Client Error| Server Error)", text) or re.match(r"\s*([45]\d\d)\b", text)
    if match:
        return int(match.group(1))
    for phrase, status in (("Unauthorized", 401), ("Forbidden", 403), ("Not Found", 404), ("Too Many", 429)):
        if phrase in text:
            return status
    return None


def _retry_delay(e: Exception, attempt: int) -> float:
    """Seconds to wait before the next attempt: Retry-After when given, else 2^attempt; capped."""
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    try:
        delay = float(headers.get("Retry-After"))
    except (TypeError, ValueError):
        delay = 2.0 ** attempt
    return max(0.0, min(delay, RATE_LIMIT_CAP_S))


def _short(e: Exception) -> str:
    """The exception's text, scrubbed and cut to one line."""
    text = scrub(e).strip().splitlines()
    return (text[0][:200] if text else "no message")


def _competition(slug: str):
    """A competition Source for `slug`, used to word errors about submissions."""
    from harness.competition import Source
    return Source("competition", slug)


_bar_label = threading.local()  # what the client's bars are called in this thread; None outside _client_progress


@contextlib.contextmanager
def _client_progress(label: str):
    """Inside the block the client's own byte-counting bars (run it with quiet=False) are drawn by
    harness.progress, named `label`; its other chatter on stdout stays hidden by _quiet."""
    from kaggle.api import kaggle_api_extended as client

    client.tqdm = _client_bar  # the client's module-level name for tqdm, the only way into its download loop
    _bar_label.text = label
    try:
        yield
    finally:
        _bar_label.text = None


def _client_bar(disable=False, **kwargs):
    """What the client gets when it asks for tqdm(total=..., initial=..., unit="B", ...)."""
    label = getattr(_bar_label, "text", None)
    return progress.bar(desc=label or "kaggle", disable=disable or label is None, **kwargs)


_quiet_lock = threading.Lock()
_quiet_depth = [0, None]  # callers inside _quiet now, and the stdout to restore when the last one leaves


@contextlib.contextmanager
def _quiet():
    """Silence what the client prints (progress, dataset URLs, auth help); safe when threads overlap."""
    with _quiet_lock:
        if _quiet_depth[0] == 0:
            _quiet_depth[1], sys.stdout = sys.stdout, io.StringIO()
        _quiet_depth[0] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth[0] -= 1
            if _quiet_depth[0] == 0:
                sys.stdout = _quiet_depth[1]


# --- credentials ---------------------------------------------------------------------------------

def _config_dir() -> Path:
    """Where the client looks for kaggle.json: $KAGGLE_CONFIG_DIR, ~/.kaggle, else the XDG config folder."""
    env = os.environ.get("KAGGLE_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    home = Path.home() / ".kaggle"
    if home.exists():
        return home
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kaggle"


def _secrets() -> set:
    """Every credential value the client could use: env vars, token files and kaggle.json."""
    values = {os.environ.get("KAGGLE_KEY", ""), os.environ.get("KAGGLE_API_TOKEN", "")}
    token_files = (os.environ.get("KAGGLE_API_TOKEN", ""), Path.home() / ".kaggle" / "access_token",
                   Path.home() / ".kaggle" / "access_token.txt")
    for path in token_files:
        values.add(_read_quietly(path))
    for folder in {_config_dir(), Path.home() / ".kaggle"}:
        with contextlib.suppress(ValueError, AttributeError):
            values.add(str(json.loads(_read_quietly(folder / "kaggle.json") or "{}").get("key", "")))
    return {v.strip() for v in values if v and len(v.strip()) >= 4}


def _read_quietly(path) -> str:
    """A small file's text, or '' when it is missing or unreadable."""
    try:
        path = Path(path)
        return path.read_text(encoding="utf-8", errors="replace")[:4096] if path.is_file() else ""
    except (OSError, ValueError):
        return ""
