//! Fault injection for Roost tests.
//!
//! [`FaultProxy`] is a loopback proxy that sits between a client and the real server
//! (`roost_server::testing`). A client uses [`FaultProxy::base_url`] instead of the server's;
//! the test decides what goes wrong:
//!
//! * **HTTP** (every route but the stream) is forwarded to the upstream. A rule
//!   ([`FaultProxy::add_http_rule`]) picks requests by [`Route`] and either the next N of them
//!   ([`Trigger::Next`]) or each with a probability ([`Trigger::Probability`]), and applies an
//!   [`HttpFault`]: a 503, a connection reset before the response, a reset after the server
//!   handled the request (the response is lost), a body cut mid-way, a stall (no response, or a
//!   body that never ends), or a [`Hostile`] response on the range and changes endpoints.
//! * **Stream** (`/v1/stream`): the proxy terminates the client's WebSocket and opens its own to
//!   the upstream (forwarding `Authorization`), relaying frames. `message` and `chat` frames can be
//!   dropped, delayed, duplicated or held back and released after a later frame (reordered),
//!   either deterministically (`drop_next_frames`, …) or at random ([`StreamFaults`]).
//!   `hello` and `heartbeat` frames always pass. [`FaultProxy::cut_streams`] cuts every stream
//!   connection now; [`FaultProxy::refuse_streams`] refuses new ones (the client looks offline
//!   to the stream, HTTP still works); [`FaultProxy::refuse_all`] resets every connection, old
//!   and new (the server looks unreachable).
//!
//! * **Range shapes**: [`FaultProxy::refuse_range_shapes`] makes the range endpoint answer
//!   `400 bad_request` to chosen query shapes ([`RangeShape`]: `seqs` lists, forward ranges,
//!   backward pages), as an older or partial server would; every range request is counted by
//!   shape ([`FaultFigures::range_requests`]).
//!
//! Every injected fault is counted by [`FaultKind`] ([`FaultProxy::figures`]) and logged with
//! `tracing` (target `roost_faults`, one line per fault). Random decisions come from one RNG
//! seeded by [`FaultProxy::start`]'s `seed`.

mod hostile;
mod http;
mod kind;
pub mod knobs;
mod stream;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub use hostile::Hostile;
pub use kind::FaultKind;

/// The routes of protocol v1, as the proxy classifies requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    Health,
    Me,
    /// `GET /v1/chats`
    ChatList,
    /// `POST /v1/chats`
    CreateChat,
    /// `GET /v1/chats/{id}`
    Chat,
    /// `GET /v1/chats/{id}/messages`
    Range,
    /// `GET /v1/chats/{id}/changes`
    Changes,
    /// `POST /v1/chats/{id}/messages`
    Send,
    /// `PATCH /v1/chats/{id}/messages/{mid}`
    Edit,
    /// `DELETE /v1/chats/{id}/messages/{mid}`
    Delete,
    /// `GET /v1/stream`
    Stream,
    Other,
}

impl Route {
    pub fn classify(method: &str, path: &str) -> Route {
        let parts: Vec<&str> = path
            .trim_end_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        match (method, parts.as_slice()) {
            ("GET", ["v1", "health"]) => Route::Health,
            ("GET", ["v1", "me"]) => Route::Me,
            ("GET", ["v1", "chats"]) => Route::ChatList,
            ("POST", ["v1", "chats"]) => Route::CreateChat,
            ("GET", ["v1", "chats", _]) => Route::Chat,
            ("GET", ["v1", "chats", _, "messages"]) => Route::Range,
            ("POST", ["v1", "chats", _, "messages"]) => Route::Send,
            ("GET", ["v1", "chats", _, "changes"]) => Route::Changes,
            ("PATCH", ["v1", "chats", _, "messages", _]) => Route::Edit,
            ("DELETE", ["v1", "chats", _, "messages", _]) => Route::Delete,
            ("GET", ["v1", "stream"]) => Route::Stream,
            _ => Route::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Me => "me",
            Route::ChatList => "chats",
            Route::CreateChat => "create_chat",
            Route::Chat => "chat",
            Route::Range => "range",
            Route::Changes => "changes",
            Route::Send => "send",
            Route::Edit => "edit",
            Route::Delete => "delete",
            Route::Stream => "stream",
            Route::Other => "other",
        }
    }
}

/// The query shapes of `GET /v1/chats/{id}/messages` (PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RangeShape {
    /// `?seqs=…`: listed seqs and ranges.
    Seqs,
    /// `?from_seq=…[&to_seq=…]`: forward pages.
    Forward,
    /// `?before_seq=…` or no seq at all (the newest page): backward pages.
    Backward,
}

impl RangeShape {
    pub const ALL: [RangeShape; 3] = [RangeShape::Seqs, RangeShape::Forward, RangeShape::Backward];

    /// The shape of a range request's query string.
    pub fn classify(query: Option<&str>) -> RangeShape {
        let has = |name: &str| {
            query
                .unwrap_or("")
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        };
        if has("seqs") {
            RangeShape::Seqs
        } else if has("from_seq") {
            RangeShape::Forward
        } else {
            RangeShape::Backward
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RangeShape::Seqs => "seqs",
            RangeShape::Forward => "forward",
            RangeShape::Backward => "backward",
        }
    }
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every HTTP request (never the stream upgrade).
    Any,
    /// Only these routes.
    Only(Vec<Route>),
}

impl Scope {
    pub fn route(route: Route) -> Scope {
        Scope::Only(vec![route])
    }
    /// The read routes a sync uses: chat list, chat, range, changes.
    pub fn sync_reads() -> Scope {
        Scope::Only(vec![
            Route::ChatList,
            Route::Chat,
            Route::Range,
            Route::Changes,
        ])
    }
    fn matches(&self, route: Route) -> bool {
        route != Route::Stream
            && match self {
                Scope::Any => true,
                Scope::Only(routes) => routes.contains(&route),
            }
    }
}

/// What goes wrong with one HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpFault {
    /// Answer 503 with an `internal` error body; the request never reaches the server.
    Status503,
    /// Reset the connection before any response; the request never reaches the server.
    Reset,
    /// Forward the request (the server handles it), then reset the connection: the response is
    /// lost. Exercises idempotent retries.
    LoseResponse,
    /// Send the status, headers and half the body, then cut the connection.
    CutBody,
    /// Never answer (the request never reaches the server).
    Stall,
    /// Hold the request this long, then forward it: a slow server (what a sync indicator is
    /// for). The answer is the server's own.
    Delay(Duration),
    /// Answer 403 `forbidden` (a definite rejection: a client must not retry it on its own,
    /// e.g. a send becomes "failed"); the request never reaches the server.
    Refuse,
    /// Send the status, headers and half the body, then nothing, forever.
    StallBody,
    /// A well-formed HTTP success whose content is wrong (structural kinds: range and changes
    /// routes only; `InvalidJson`/`TruncatedJson`: any route, e.g. the answer to a send). Applied
    /// only to a 2xx answer; on an error answer it waits for the next matching request.
    Hostile(Hostile),
}

impl HttpFault {
    fn applies_to(self, route: Route) -> bool {
        match self {
            HttpFault::Hostile(hostile) => hostile.applies_to(route),
            _ => true,
        }
    }
    pub fn kind(self) -> FaultKind {
        match self {
            HttpFault::Status503 => FaultKind::Http503,
            HttpFault::Reset => FaultKind::HttpReset,
            HttpFault::LoseResponse => FaultKind::HttpLoseResponse,
            HttpFault::CutBody => FaultKind::HttpCutBody,
            HttpFault::Stall => FaultKind::HttpStall,
            HttpFault::Delay(_) => FaultKind::HttpDelay,
            HttpFault::Refuse => FaultKind::HttpRefused,
            HttpFault::StallBody => FaultKind::HttpStallBody,
            HttpFault::Hostile(hostile) => FaultKind::Hostile(hostile),
        }
    }
}

/// When a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// The next `n` matching requests.
    Next(u32),
    /// Each matching request with this probability (0.0 ..= 1.0), until the rule is removed.
    Probability(f64),
}

/// Identifies a rule added with [`FaultProxy::add_http_rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId(u64);

#[derive(Debug, Clone)]
struct HttpRule {
    id: RuleId,
    scope: Scope,
    fault: HttpFault,
    trigger: Trigger,
}

/// Random stream faults: each `message`/`chat` frame is, with these probabilities (checked in
/// this order, at most one applies), dropped, duplicated, delayed by up to `max_delay`, or held
/// back and released after the next frame that passes (or after `max_hold`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamFaults {
    pub drop: f64,
    pub duplicate: f64,
    pub delay: f64,
    pub max_delay: Duration,
    pub reorder: f64,
}

impl Default for StreamFaults {
    fn default() -> Self {
        StreamFaults {
            drop: 0.0,
            duplicate: 0.0,
            delay: 0.0,
            max_delay: Duration::from_millis(50),
            reorder: 0.0,
        }
    }
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultFigures {
    /// Faults injected, by kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// HTTP requests received (stream upgrades excluded).
    pub http_requests: u64,
    /// HTTP requests forwarded to the upstream.
    pub http_forwarded: u64,
    /// Stream connections relayed to the upstream.
    pub stream_connections: u64,
    /// Frames relayed from the upstream to clients (duplicates count twice).
    pub frames_relayed: u64,
    /// Per route: responses forwarded from the upstream (whatever the proxy then did to them).
    pub responses_by_route: BTreeMap<Route, u64>,
    /// Per route: messages the upstream served (its `x-roost-message-count`), whatever the
    /// proxy then did to the response — what the server spent, e.g. on range fetches.
    pub messages_by_route: BTreeMap<Route, u64>,
    /// Range requests received, by query shape (refused ones included).
    pub range_requests_by_shape: BTreeMap<RangeShape, u64>,
}

impl FaultFigures {
    pub fn count(&self, kind: FaultKind) -> u64 {
        self.faults.get(&kind).copied().unwrap_or(0)
    }
    /// Messages the upstream served on `route`.
    pub fn messages(&self, route: Route) -> u64 {
        self.messages_by_route.get(&route).copied().unwrap_or(0)
    }
    /// Responses forwarded from the upstream on `route`.
    pub fn responses(&self, route: Route) -> u64 {
        self.responses_by_route.get(&route).copied().unwrap_or(0)
    }
    /// Range requests of `shape` received.
    pub fn range_requests(&self, shape: RangeShape) -> u64 {
        self.range_requests_by_shape
            .get(&shape)
            .copied()
            .unwrap_or(0)
    }
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
    /// Adds `other` into `self` (to sum figures over many proxies).
    pub fn absorb(&mut self, other: &FaultFigures) {
        for (kind, n) in &other.faults {
            *self.faults.entry(*kind).or_default() += n;
        }
        self.http_requests += other.http_requests;
        self.http_forwarded += other.http_forwarded;
        self.stream_connections += other.stream_connections;
        self.frames_relayed += other.frames_relayed;
        for (route, n) in &other.responses_by_route {
            *self.responses_by_route.entry(*route).or_default() += n;
        }
        for (route, n) in &other.messages_by_route {
            *self.messages_by_route.entry(*route).or_default() += n;
        }
        for (shape, n) in &other.range_requests_by_shape {
            *self.range_requests_by_shape.entry(*shape).or_default() += n;
        }
    }
}

impl fmt::Display for FaultFigures {
    /// `faults=N (kind=n kind=n …) http_requests=… http_forwarded=… stream_connections=… frames_relayed=…`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "faults={} (", self.total_faults())?;
        let mut first = true;
        for (kind, n) in &self.faults {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{kind}={n}")?;
        }
        write!(
            f,
            ") http_requests={} http_forwarded={} stream_connections={} frames_relayed={}",
            self.http_requests, self.http_forwarded, self.stream_connections, self.frames_relayed
        )
    }
}

/// Errors of the proxy itself (not of the faults it injects).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("could not bind the fault proxy on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
}

/// A decision about one stream frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameAction {
    Pass,
    Drop,
    Duplicate,
    Delay(Duration),
    Hold,
}

#[derive(Debug)]
struct Control {
    rng: StdRng,
    next_rule: u64,
    rules: Vec<HttpRule>,
    stream: StreamFaults,
    drop_next: u32,
    duplicate_next: u32,
    hold_next: u32,
    delay_next: u32,
    delay_next_by: Duration,
    max_hold: Duration,
    refuse_streams: bool,
    refuse_all: bool,
    refused_shapes: Vec<RangeShape>,
    figures: FaultFigures,
}

/// State shared by the accept loop, every connection and the [`FaultProxy`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    upstream: SocketAddr,
    control: Mutex<Control>,
    /// Bumped to cut every stream connection.
    stream_epoch: watch::Sender<u64>,
    /// Bumped to reset every connection (HTTP and stream).
    kill_epoch: watch::Sender<u64>,
    /// Released held frames everywhere.
    release_epoch: watch::Sender<u64>,
    client: reqwest::Client,
}

impl Shared {
    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn record(&self, kind: FaultKind, detail: &str) {
        *self.control().figures.faults.entry(kind).or_default() += 1;
        tracing::info!(target: "roost_faults", fault = kind.as_str(), "{detail}");
    }

    fn bump(&self, f: impl FnOnce(&mut FaultFigures)) {
        f(&mut self.control().figures);
    }

    pub(crate) fn refusing_all(&self) -> bool {
        self.control().refuse_all
    }

    /// Counts a range request of `shape`; `true` when that shape is refused.
    pub(crate) fn range_request(&self, shape: RangeShape) -> bool {
        let mut control = self.control();
        *control
            .figures
            .range_requests_by_shape
            .entry(shape)
            .or_default() += 1;
        control.refused_shapes.contains(&shape)
    }

    pub(crate) fn refusing_streams(&self) -> bool {
        self.control().refuse_streams
    }

    pub(crate) fn max_hold(&self) -> Duration {
        self.control().max_hold
    }

    /// Picks the HTTP fault for a request on `route`, if any (consuming a `Next` budget).
    pub(crate) fn decide_http(&self, route: Route) -> Option<(RuleId, HttpFault)> {
        let mut control = self.control();
        control.figures.http_requests += 1;
        let Control { rng, rules, .. } = &mut *control;
        for rule in rules.iter_mut() {
            if !rule.scope.matches(route) || !rule.fault.applies_to(route) {
                continue;
            }
            match &mut rule.trigger {
                Trigger::Next(n) => {
                    if *n > 0 {
                        *n -= 1;
                        return Some((rule.id, rule.fault));
                    }
                }
                Trigger::Probability(p) => {
                    if *p > 0.0 && rng.random::<f64>() < *p {
                        return Some((rule.id, rule.fault));
                    }
                }
            }
        }
        None
    }

    /// Gives back the budget of a `Next` rule whose fault turned out not to apply (e.g. a
    /// hostile page on an error response). Exhausted rules are kept until cleared, so the id
    /// is always found while the rule exists.
    pub(crate) fn refund(&self, id: RuleId) {
        let mut control = self.control();
        if let Some(rule) = control.rules.iter_mut().find(|rule| rule.id == id)
            && let Trigger::Next(n) = &mut rule.trigger
        {
            *n += 1;
        }
    }

    pub(crate) fn decide_frame(&self) -> FrameAction {
        let mut control = self.control();
        if control.drop_next > 0 {
            control.drop_next -= 1;
            return FrameAction::Drop;
        }
        if control.duplicate_next > 0 {
            control.duplicate_next -= 1;
            return FrameAction::Duplicate;
        }
        if control.hold_next > 0 {
            control.hold_next -= 1;
            return FrameAction::Hold;
        }
        if control.delay_next > 0 {
            control.delay_next -= 1;
            return FrameAction::Delay(control.delay_next_by);
        }
        let faults = control.stream;
        if faults.drop + faults.duplicate + faults.delay + faults.reorder <= 0.0 {
            return FrameAction::Pass;
        }
        let roll = control.rng.random::<f64>();
        let mut threshold = faults.drop;
        if roll < threshold {
            return FrameAction::Drop;
        }
        threshold += faults.duplicate;
        if roll < threshold {
            return FrameAction::Duplicate;
        }
        threshold += faults.delay;
        if roll < threshold {
            let max = faults.max_delay.as_millis().max(1) as u64;
            let millis = control.rng.random_range(1..=max);
            return FrameAction::Delay(Duration::from_millis(millis));
        }
        threshold += faults.reorder;
        if roll < threshold {
            return FrameAction::Hold;
        }
        FrameAction::Pass
    }
}

/// A running fault proxy. Dropping it stops accepting and resets every connection.
#[derive(Debug)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (ephemeral port) forwarding to `upstream`; random faults
    /// are drawn from an RNG seeded with `seed`. Panics if it cannot bind (tests only; see
    /// [`FaultProxy::try_start`]).
    pub async fn start(upstream: SocketAddr, seed: u64) -> FaultProxy {
        FaultProxy::try_start(upstream, seed)
            .await
            .expect("start the fault proxy")
    }

    pub async fn try_start(upstream: SocketAddr, seed: u64) -> Result<FaultProxy, ProxyError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build the proxy's HTTP client");
        let shared = Arc::new(Shared {
            upstream,
            control: Mutex::new(Control {
                rng: StdRng::seed_from_u64(seed),
                next_rule: 1,
                rules: Vec::new(),
                stream: StreamFaults::default(),
                drop_next: 0,
                duplicate_next: 0,
                hold_next: 0,
                delay_next: 0,
                delay_next_by: Duration::ZERO,
                max_hold: Duration::from_millis(300),
                refuse_streams: false,
                refused_shapes: Vec::new(),
                refuse_all: false,
                figures: FaultFigures::default(),
            }),
            stream_epoch: watch::channel(0).0,
            kill_epoch: watch::channel(0).0,
            release_epoch: watch::channel(0).0,
            client,
        });
        let accept = tokio::spawn(http::accept_loop(shared.clone(), listener));
        tracing::debug!(target: "roost_faults", %addr, %upstream, seed, "fault proxy started");
        Ok(FaultProxy {
            shared,
            addr,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT` — give this to the client instead of the server's URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    // ------------------------------------------------------------------ HTTP faults

    /// Adds a rule; rules are checked in the order they were added, the first that fires wins.
    pub fn add_http_rule(&self, scope: Scope, fault: HttpFault, trigger: Trigger) -> RuleId {
        let mut control = self.shared.control();
        // Forget exhausted one-shots.
        control
            .rules
            .retain(|rule| rule.trigger != Trigger::Next(0));
        let id = RuleId(control.next_rule);
        control.next_rule += 1;
        control.rules.push(HttpRule {
            id,
            scope,
            fault,
            trigger,
        });
        id
    }
    /// `fault` on the next `n` requests in `scope`.
    pub fn fail_next(&self, scope: Scope, n: u32, fault: HttpFault) -> RuleId {
        self.add_http_rule(scope, fault, Trigger::Next(n))
    }
    /// `fault` on each request in `scope` with probability `p`, until removed.
    pub fn fail_with_probability(&self, scope: Scope, p: f64, fault: HttpFault) -> RuleId {
        self.add_http_rule(scope, fault, Trigger::Probability(p))
    }
    pub fn remove_http_rule(&self, id: RuleId) {
        self.shared.control().rules.retain(|rule| rule.id != id);
    }
    /// Removes every HTTP rule (requests in flight keep their fault).
    pub fn clear_http_faults(&self) {
        self.shared.control().rules.clear();
    }
    /// How many `Next` faults are still pending (0 when every one-shot has fired).
    pub fn pending_http_faults(&self) -> u32 {
        self.shared
            .control()
            .rules
            .iter()
            .map(|rule| match rule.trigger {
                Trigger::Next(n) => n,
                Trigger::Probability(_) => 0,
            })
            .sum()
    }

    // ------------------------------------------------------------------ stream faults

    /// Random stream faults from now on (replaces the previous setting).
    pub fn set_stream_faults(&self, faults: StreamFaults) {
        self.shared.control().stream = faults;
    }
    /// Drops the next `n` `message`/`chat` frames (over all stream connections).
    pub fn drop_next_frames(&self, n: u32) {
        self.shared.control().drop_next += n;
    }
    /// Relays each of the next `n` frames twice.
    pub fn duplicate_next_frames(&self, n: u32) {
        self.shared.control().duplicate_next += n;
    }
    /// Holds each of the next `n` frames back; a held frame is relayed right after the next
    /// frame that passes on its connection, on [`FaultProxy::release_held`], or after the hold
    /// time ([`FaultProxy::set_max_hold`], default 300 ms) — whichever comes first.
    pub fn hold_next_frames(&self, n: u32) {
        self.shared.control().hold_next += n;
    }
    /// Delays each of the next `n` frames by `by`.
    pub fn delay_next_frames(&self, n: u32, by: Duration) {
        let mut control = self.shared.control();
        control.delay_next += n;
        control.delay_next_by = by;
    }
    pub fn set_max_hold(&self, hold: Duration) {
        self.shared.control().max_hold = hold;
    }
    /// Relays every held frame now.
    pub fn release_held(&self) {
        self.shared.release_epoch.send_modify(|epoch| *epoch += 1);
    }
    /// Clears every stream fault (random and pending one-shots). Held frames are released.
    pub fn clear_stream_faults(&self) {
        {
            let mut control = self.shared.control();
            control.stream = StreamFaults::default();
            control.drop_next = 0;
            control.duplicate_next = 0;
            control.hold_next = 0;
            control.delay_next = 0;
        }
        self.release_held();
    }
    /// Cuts every stream connection now (no close frame: the TCP connection just ends).
    pub fn cut_streams(&self) {
        self.shared.stream_epoch.send_modify(|epoch| *epoch += 1);
    }
    /// From now on the range endpoint answers `400 bad_request` to these query shapes (an
    /// older or partial server); an empty list serves every shape again.
    pub fn refuse_range_shapes(&self, shapes: &[RangeShape]) {
        self.shared.control().refused_shapes = shapes.to_vec();
    }
    /// While on, new stream connections are reset before the upgrade (the client looks
    /// offline to the stream; HTTP still works). Turning it on does not cut existing ones.
    pub fn refuse_streams(&self, on: bool) {
        self.shared.control().refuse_streams = on;
    }
    /// While on, every connection is reset as soon as it is accepted, and turning it on resets
    /// every open connection: the server looks unreachable.
    pub fn refuse_all(&self, on: bool) {
        self.shared.control().refuse_all = on;
        if on {
            self.shared.kill_epoch.send_modify(|epoch| *epoch += 1);
        }
    }
    /// Resets every open connection (HTTP keep-alive and stream) without refusing new ones.
    pub fn reset_all_connections(&self) {
        self.shared.kill_epoch.send_modify(|epoch| *epoch += 1);
    }
    /// Clears every fault: HTTP rules, stream faults, refusals.
    pub fn heal(&self) {
        self.clear_http_faults();
        self.clear_stream_faults();
        let mut control = self.shared.control();
        control.refuse_streams = false;
        control.refuse_all = false;
        control.refused_shapes.clear();
    }

    /// Stream connections currently relayed.
    pub fn active_streams(&self) -> usize {
        self.shared.stream_epoch.receiver_count()
    }

    pub fn figures(&self) -> FaultFigures {
        self.shared.control().figures.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.control().refuse_all = true;
        self.shared.kill_epoch.send_modify(|epoch| *epoch += 1);
    }
}
