"""offload probe: send the app each front end's version of a request, plus control variants, and judge the answers.

No proxy runs: requests go straight to the app, built by the same forward() and judged by the same rules as the
addon's. For each URL and front end: the request as the front end forwards it, and the same with
X-Forwarded-Proto: https (the app seeing HTTPS); per URL: the request with no front end at all, and a spoof audit
(forged X-Forwarded-* from a client with no front end in between).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from . import advice, references, trust
from .compare import compare, compare_peer, fold, outcome
from .exchange import Exchange, backend_names, from_answer
from .findings import LEVEL, Finding, Findings, route
from .forward import Client, Incoming, forward
from .passive import inspect
from .profiles import Profile
from .recognize import Recognizer
from .redact import redact_url, strip_userinfo
from .reference import Answer, BadAnswer, Target, send, variant

# The simulated client: TEST-NET-3 (RFC 5737), never contacted.
CLIENT = Client("203.0.113.7", 50123, "1.3")
USER_AGENT = "offload-probe"
# Forged values for the spoof audit: documentation ranges and a reserved name (RFC 5737, RFC 2606).
SPOOFS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "198.51.100.77",
    "X-Forwarded-Host": "spoofed.offload.test",
}


class NoAnswer(Exception):
    """The app gave no usable answer: unreachable, too slow, or not HTTP/1.x."""


def no_answer(error: Exception) -> str:
    """One sentence for a request that got no usable answer."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the app running?)"
    if isinstance(error, ConnectionResetError):
        return "the connection was reset"
    if isinstance(error, socket.gaierror):
        return f"the host name does not resolve ({error.strerror})"
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class Job:
    """One URL to probe."""

    url: str  # without credentials
    target: Target
    host: str  # the public host the client uses
    path: str
    had_userinfo: bool = False  # the URL given had user:password@, which is never sent

    @classmethod
    def parse(cls, url: str, host: str | None = None) -> Job:
        url, had_userinfo = strip_userinfo(url)
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as e:
            raise ValueError(f"not a valid URL: {redact_url(url)!r} ({e})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL: {redact_url(url)!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(url, Target(parts.hostname, port, parts.scheme == "https"), host or parts.netloc, path,
                   had_userinfo)

    @property
    def shown(self) -> str:
        """The URL as offload prints it: ids, tokens and query values hidden."""
        return redact_url(self.url)


@dataclass
class Cell:
    """The verdict for one URL behind one front end."""

    url: str
    frontend: str
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    xff: str = ""  # the X-Forwarded-For the app got, for the client-ip-port advice

    @property
    def verdict(self) -> str:
        if self.error:
            return "failed"
        if not self.findings:
            return "ok"
        return max((f.severity for f in self.findings), key=LEVEL.__getitem__)


@dataclass
class Result:
    cells: list[Cell]
    findings: Findings
    requests: int
    unanswered: dict[str, str] = field(default_factory=dict)  # URL -> why it got no usable answer
    framework: str = ""  # the recognition's one line


class Prober:
    """Runs the probe: bounded in concurrency and time, loopback and the app's own address only."""

    def __init__(self, profiles: list[Profile], headers: list[tuple[str, str]] = (), peer: str | None = None,
                 timeout: float = 5.0, workers: int = 8, method: str = "GET", audit: bool = False,
                 origin: str = "", echo: str = ""):
        self.profiles = profiles
        self.origin = origin  # --origin-host: a host name, "profile", or "" (the public host is kept)
        self.echo = echo  # --echo: the path of the app's echo endpoint, for trust counting
        self.echo_job: Job | None = None  # the URL whose cells carry the trust count (once per front end)
        self.headers = list(headers)
        self.peer = peer
        self.timeout = timeout
        self.workers = workers
        self.method = method
        self.requests = 0
        self.spoof_source = spoof_source()
        self.audit = audit  # the spoof audit's findings are warnings (else info: most apps are only reachable
        # through their front end, where trusting X-Forwarded-* is right)
        self.recognizer = Recognizer()

    async def send(self, job: Job, headers, source: str | None = None) -> Answer:
        """One request on the total deadline; NoAnswer when the app gave no usable answer."""
        async with self.gate:
            self.requests += 1
            try:
                return await send(job.target, self.method, job.path, headers, source=source, timeout=self.timeout)
            except (OSError, TimeoutError, BadAnswer) as e:
                raise NoAnswer(no_answer(e)) from None

    def base_headers(self, job: Job) -> list[tuple[str, str]]:
        names = {k.lower() for k, _ in self.headers}
        base = [("Host", job.host)]
        base += [(k, v) for k, v in (("User-Agent", USER_AGENT), ("Accept", "*/*")) if k.lower() not in names]
        return base + [h for h in self.headers if h[0].lower() != "host"]

    def run(self, jobs: list[Job]) -> Result:
        return asyncio.run(self._run(jobs))

    async def _run(self, jobs: list[Job]) -> Result:
        self.gate = asyncio.Semaphore(self.workers)
        baselines = await asyncio.gather(*(self.baseline(job) for job in jobs))
        unanswered = {job.url: b for job, b in zip(jobs, baselines) if isinstance(b, str)}
        work = [(job, base) for job, base in zip(jobs, baselines) if not isinstance(base, str)]
        self.echo_job = work[0][0] if work else None
        cells = list(await asyncio.gather(*(self.probe(job, base, p) for job, base in work for p in self.profiles)))
        cells += await asyncio.gather(*(self.spoof_audit(job, base) for job, base in work))
        self.advise(cells)
        for job in jobs:
            if job.url in unanswered:
                cells += [Cell(job.url, p.name, error=unanswered[job.url]) for p in self.profiles]
        findings = Findings(limit=10_000)
        for cell in cells:
            for f in cell.findings:
                findings.add(f)
            if cell.error and cell.url not in unanswered:
                unanswered[cell.url] = f"{cell.error} (behind {cell.frontend or 'no front end'})"
        findings.flows = self.requests
        return Result(cells, findings, self.requests, unanswered, self.recognizer.explain())

    def advise(self, cells: list[Cell]) -> None:
        """Each finding with the framework recognised from every answer of the run, and its fix."""
        framework = self.recognizer.name
        by_name = {p.name: p for p in self.profiles}
        for cell in cells:
            profile = by_name.get(cell.frontend)
            if profile is None:  # the spoof audit: no front end in between
                ctx = advice.Context("X-Forwarded-Proto")
            else:
                ctx = advice.context_for(profile, profile.request, self.peer or "", bool(self.origin_for(profile)))
                tip = advice.ip_port_finding(profile, framework, cell.xff)
                cell.findings += [tip] if tip else []
            cell.findings = [advice.complete(f, cell.frontend, framework, ctx) for f in cell.findings]

    def exchange(self, job: Job, answer: Answer, request_headers, scheme: str = "https") -> Exchange:
        like = Exchange(self.method, scheme, job.host, job.path, 0, (),
                        backends=backend_names(job.target.host, job.target.port),
                        request_headers=tuple(request_headers))
        return from_answer(like, answer.status, answer.headers, answer.body)

    async def baseline(self, job: Job) -> Exchange | str:
        """The control with no front end: a plain request, as the app sees a direct client; why not, if none."""
        headers = self.base_headers(job)
        try:
            return self.exchange(job, await self.send(job, headers), headers, scheme="http")
        except NoAnswer as e:
            return str(e)

    async def probe(self, job: Job, baseline: Exchange, profile: Profile) -> Cell:
        cell = Cell(job.url, profile.name)
        incoming = Incoming("https", job.host, job.path, self.base_headers(job), CLIENT,
                            upstream=f"{job.target.host}:{job.target.port}", origin_host=self.origin_for(profile))
        fwd = forward(profile, incoming)
        headers = variant(fwd.headers, {"Host": fwd.host}) if fwd.host != job.host else fwd.headers
        origin = fwd.host if incoming.origin_host and fwd.host.lower() != job.host.lower() else ""
        try:
            actual = replace(self.exchange(job, await self.send(job, headers, self.peer), headers), origin=origin)
            refs = {}
            correct = references.correct(headers, job.host)
            if correct is not None:
                refs["https"] = self.exchange(job, await self.send(job, correct, self.peer), correct)
            if actual.status >= 400:
                plain = references.plain(headers, job.host, (r.name for r in profile.request))
                refs["plain"] = self.exchange(job, await self.send(job, plain, self.peer), plain, scheme="http")
            if self.peer:
                refs["loopback"] = self.exchange(job, await self.send(job, headers), headers)
        except NoAnswer as e:
            cell.error = str(e)
            return cell
        if self.echo and job is self.echo_job:
            found_echo = await self.trust_count(job, profile)
        else:
            found_echo = []
        found = inspect(actual) + compare(actual, refs.get("https"), refs.get("plain")) + found_echo
        if "loopback" in refs:
            found += compare_peer(actual, refs["loopback"], self.peer)
        self.recognizer.see((actual, *refs.values(), baseline))
        cell.findings = fold(found)
        cell.xff = actual.request_header("X-Forwarded-For") or ""
        return cell

    async def trust_count(self, job: Job, profile: Profile) -> list[Finding]:
        """trusted-hops-mismatch behind this front end (or chain), from the app's echo endpoint (--echo)."""
        headers = trust.echo_headers(profile, None, job.host, self.echo)
        try:
            answer = await self.send(replace(job, path=self.echo), headers, self.peer)
        except NoAnswer:
            return []
        seen = trust.seen_address(answer.body) if answer.status < 400 else ""
        finding = trust.judge(seen, profile, headers, self.peer or "127.0.0.1") if seen else None
        return [finding] if finding else []

    def origin_for(self, profile: Profile) -> str:
        """--origin-host for this front end: 'profile' only where the front end (or a hop) has an origin host."""
        if self.origin == "profile" and not any(h.origin_host is not None for h in (profile.hops or (profile,))):
            return ""
        return self.origin

    async def spoof_audit(self, job: Job, baseline: Exchange) -> Cell:
        """trusts-spoofed-forwarding: forged X-Forwarded-* from a client with no front end in between."""
        cell = Cell(job.url, "")
        base = self.base_headers(job)
        found = []
        try:
            # The control comes from the same address as the forgeries: only the forged header differs.
            baseline = self.exchange(job, await self.send(job, base, self.spoof_source), base, scheme="http")
            for name, value in SPOOFS.items():
                headers = variant(base, {name: value})
                forged = self.exchange(job, await self.send(job, headers, self.spoof_source), headers, scheme="http")
                why = believed(baseline, forged, name, value)
                if why:
                    found.append(Finding(
                        "trusts-spoofed-forwarding", self.method, route(job.path), name,
                        f"{self.method} {route(job.path)} believes a forged {name}: {value} from a client at "
                        f"{self.spoof_source or '127.0.0.1'} with no front end in between ({why}).",
                        redact_url(job.url), f"without it: {outcome(baseline)}; with it: {outcome(forged)}"))
        except NoAnswer as e:
            cell.error = str(e)
            return cell
        self.recognizer.see((baseline,))
        cell.findings = found if self.audit else [replace(f, level="info") for f in found]
        return cell


def believed(baseline: Exchange, forged: Exchange, name: str, value: str) -> str:
    """Why the forged answer shows the app believed the header; "" if it does not."""
    if name != "X-Forwarded-Proto" and (
            value in (forged.location or "") or (value in forged.body and value not in baseline.body)):
        return f"the answer repeats {value}"
    if name == "X-Forwarded-Proto":
        if forged.status != baseline.status:
            return f"status {baseline.status} became {forged.status}"
        if forged.set_names != baseline.set_names:
            return "it sets other cookies"
        if sum(c.secure for c in forged.cookies) > sum(c.secure for c in baseline.cookies):
            return "its cookies became Secure"
        if (forged.location or "").startswith("https:") != (baseline.location or "").startswith("https:"):
            return "its redirect changed scheme"
    return ""


def spoof_source() -> str | None:
    """127.0.0.2 where it is bindable (Linux): apps that trust exactly 127.0.0.1 then see a stranger."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return "127.0.0.2"
    except OSError:
        return None
