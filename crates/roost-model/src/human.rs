//! Sentences for people: the one mapping from every error kind Roost reports to what a person
//! reads in the desktop app and in the CLI's human (non-`--json`) output.
//!
//! Kinds are the stable machine strings: the server's wire kinds ([`ErrorKind`]), the client
//! core's `Error::kind()`, the shell's IPC kinds ([`IpcErrorKind`]) and the sign-in check's
//! kinds ([`SIGN_IN_KINDS`]). Programs keep matching on kinds (and `--json` keeps printing the
//! kind and the technical message); only what is shown to a person comes from here. Must stay
//! wasm-safe (the UI uses it): plain strings, no I/O.

use crate::app::IpcErrorKind;
use roost_proto::ErrorKind;

/// Kinds of a failed sign-in check (`roost_core::sign_in`), beyond the shared ones
/// (`offline` for an unreachable server, `unauthorized` for a refused token, `server`).
pub const SIGN_IN_KINDS: &[&str] = &["not_roost_server", "protocol_version"];

/// Every kind string any part of Roost reports (wire, core, IPC, sign-in, CLI), each once.
pub const KINDS: &[&str] = &[
    // server wire kinds (`ErrorKind::as_str`)
    "bad_request",
    "invalid_json",
    "unsupported_media_type",
    "page_size_too_large",
    "payload_too_large",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "forbidden",
    "version_conflict",
    "idempotency_key_reused",
    "too_many_members",
    "internal",
    "rate_limited",
    "overloaded",
    "unknown",
    // client core (`roost_core::Error::kind`)
    "offline",
    "server",
    "protocol_violation",
    "cache_corrupt",
    "cache",
    "invalid_input",
    "shutdown",
    "wrong_account",
    "cache_in_use",
    "chat_left",
    // desktop shell (`IpcErrorKind`)
    "not_signed_in",
    // sign-in check
    "not_roost_server",
    "protocol_version",
    // the CLI's own usage errors
    "cli",
];

/// Said for a kind this build does not know (a newer server or shell).
pub const FALLBACK: &str =
    "Something went wrong. Try again; if it keeps happening, the details are in the log.";

/// Said when the server refused the token at sign-in (and for `unauthorized` in general).
pub const TOKEN_REFUSED: &str =
    "The server did not accept this token. Check it, or ask for a new one.";

/// The sentence for a kind string; [`FALLBACK`] for a kind not in [`KINDS`].
pub fn sentence(kind: &str) -> &'static str {
    match kind {
        "bad_request" => "The server could not use this request. Roost may need an update.",
        "invalid_json" => "The server could not read what Roost sent. Roost may need an update.",
        "unsupported_media_type" => {
            "The server did not understand the request's format. Roost may need an update."
        }
        "page_size_too_large" => "Roost asked the server for too much at once.",
        "payload_too_large" => "This message is too large to send. Shorten it and try again.",
        "unauthorized" => TOKEN_REFUSED,
        "not_found" => "That chat or message no longer exists, or you are not a member.",
        "method_not_allowed" => {
            "The server does not support this action. Roost may need an update."
        }
        "forbidden" => {
            "You may not do that: only a message's author can change it, and only a chat's creator can remove others."
        }
        "too_many_members" => "This chat already has as many members as the server allows.",
        "version_conflict" => {
            "This message was changed or deleted meanwhile. Look at its latest version and try again."
        }
        "idempotency_key_reused" => "The server saw this send before with different content.",
        "rate_limited" => {
            "The server is busy with too many requests from you. Roost will try again shortly."
        }
        "overloaded" => "The server is too busy right now. Roost will try again shortly.",
        "internal" => {
            "Something went wrong inside Roost or the server. Nothing was changed; try again."
        }
        "unknown" => {
            "The server refused the request for a reason this version of Roost does not know."
        }
        "offline" => {
            "Can't reach the server right now. What is cached stays readable; Roost retries on its own."
        }
        "server" => "The server refused the request.",
        "protocol_violation" => {
            "The server sent an answer that does not make sense, so Roost ignored it. Try again later."
        }
        "cache_corrupt" => {
            "The message cache on this device is damaged. Roost will rebuild it from the server."
        }
        "cache" => "Roost could not read or write its message cache on this device.",
        "invalid_input" => "That can't be used as it is. Check what you entered.",
        "shutdown" => "Roost is shutting down; the action did not finish.",
        "wrong_account" => {
            "This message cache belongs to another account. Sign in again so Roost opens this account's own cache."
        }
        "cache_in_use" => {
            "This account's messages are open in another Roost window or command. Close it and try again."
        }
        "chat_left" => {
            "You are no longer a member of this chat. What was cached stays readable on this device."
        }
        "not_signed_in" => "Sign in first: enter your server's URL and your token.",
        "not_roost_server" => "The server at this URL is not a Roost server.",
        "protocol_version" => "This server speaks another version of the Roost protocol.",
        "cli" => "The command could not run as given.",
        _ => FALLBACK,
    }
}

/// What a person reads about a chat's last full reload (`app::FullReloadInfo::reason`).
pub fn full_reload_sentence(reason: &str) -> &'static str {
    if reason == "server_cannot_serve_ranges" {
        "The server could not send just the missing parts of this chat, so Roost reloaded all of it."
    } else if reason.starts_with("cache_corrupt") {
        "This chat's copy on this device was damaged, so Roost set it aside and reloaded the chat from the server. Other chats were not affected."
    } else {
        "Roost had to reload this whole chat from the server."
    }
}

/// The sentence for a server wire kind.
pub fn wire_sentence(kind: ErrorKind) -> &'static str {
    sentence(kind.as_str())
}

/// The kind string of an IPC kind (its serialized name).
pub fn ipc_kind_str(kind: IpcErrorKind) -> &'static str {
    match kind {
        IpcErrorKind::NotSignedIn => "not_signed_in",
        IpcErrorKind::Offline => "offline",
        IpcErrorKind::Unauthorized => "unauthorized",
        IpcErrorKind::NotFound => "not_found",
        IpcErrorKind::InvalidInput => "invalid_input",
        IpcErrorKind::Forbidden => "forbidden",
        IpcErrorKind::Server => "server",
        IpcErrorKind::Cache => "cache",
        IpcErrorKind::Internal => "internal",
        IpcErrorKind::Unknown => "unknown",
    }
}

/// The sentence for an error of the client core: the server's own kind when it answered with
/// one (it says more than the core's `server`), else the core's kind.
pub fn error_sentence(kind: &str, server_kind: Option<ErrorKind>) -> &'static str {
    match server_kind {
        Some(server_kind) if server_kind != ErrorKind::Unknown => wire_sentence(server_kind),
        _ => sentence(kind),
    }
}

/// Why a server could not be reached, in the words a person knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnreachableReason {
    /// Nothing listens at that address and port (the server is down or the port is wrong).
    ConnectionRefused,
    /// The host name does not resolve.
    NameNotFound,
    /// The secure (https) connection could not be set up.
    Tls,
    /// No answer in time.
    TimedOut,
    /// Any other network failure (connection reset, network down…).
    Network,
}

impl UnreachableReason {
    pub const ALL: [UnreachableReason; 5] = [
        UnreachableReason::ConnectionRefused,
        UnreachableReason::NameNotFound,
        UnreachableReason::Tls,
        UnreachableReason::TimedOut,
        UnreachableReason::Network,
    ];

    /// Plain words, to follow "Can't reach <url>: ".
    pub fn words(self) -> &'static str {
        match self {
            UnreachableReason::ConnectionRefused => {
                "the connection was refused. Is the server running, and is the port right?"
            }
            UnreachableReason::NameNotFound => {
                "no computer with that name was found. Check the spelling of the address."
            }
            UnreachableReason::Tls => {
                "a secure connection could not be set up (the certificate was not accepted, or the server does not speak https)."
            }
            UnreachableReason::TimedOut => {
                "the server did not answer in time. Check the address and your network."
            }
            UnreachableReason::Network => "the network connection failed. Check your network.",
        }
    }
}

/// "Can't reach http://…: the connection was refused. …"
pub fn cannot_reach(url: &str, reason: UnreachableReason) -> String {
    format!("Can't reach {url}: {}", reason.words())
}

/// The server at `url` answered, but not as a Roost server does.
pub fn not_a_roost_server(url: &str) -> String {
    format!("{url} answered, but it is not a Roost server. Check the address (and the port).")
}

/// The server at `url` is a Roost server of another protocol version.
pub fn other_protocol_version(url: &str, server_protocol: u32) -> String {
    format!(
        "{url} is a Roost server, but it speaks protocol version {server_protocol} and this app speaks version {}. Update the app or the server.",
        roost_proto::PROTOCOL_VERSION
    )
}

/// The server at `url` failed while checking the token (HTTP `status`).
pub fn server_failed(url: &str, status: u16) -> String {
    format!(
        "{url} could not check the token right now (it answered with error {status}). Try again later."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_ipc_kind() -> Vec<IpcErrorKind> {
        vec![
            IpcErrorKind::NotSignedIn,
            IpcErrorKind::Offline,
            IpcErrorKind::Unauthorized,
            IpcErrorKind::NotFound,
            IpcErrorKind::InvalidInput,
            IpcErrorKind::Forbidden,
            IpcErrorKind::Server,
            IpcErrorKind::Cache,
            IpcErrorKind::Internal,
            IpcErrorKind::Unknown,
        ]
    }

    fn assert_is_a_sentence(kind: &str, text: &str) {
        assert!(
            text.chars().next().is_some_and(char::is_uppercase),
            "{kind}: {text:?} does not start like a sentence"
        );
        assert!(
            text.ends_with('.') || text.ends_with('?'),
            "{kind}: {text:?} does not end like a sentence"
        );
        for jargon in ["_", "HTTP", "json", "401", "bearer", "kind"] {
            assert!(!text.contains(jargon), "{kind}: {text:?} says {jargon:?}");
        }
    }

    #[test]
    fn every_kind_has_its_own_sentence() {
        let mut seen = std::collections::HashSet::new();
        for kind in KINDS {
            assert!(seen.insert(*kind), "{kind} is listed twice");
            let text = sentence(kind);
            assert_ne!(text, FALLBACK, "{kind} has no sentence");
            assert_is_a_sentence(kind, text);
        }
        assert_eq!(sentence("brand_new_kind"), FALLBACK);
        assert_is_a_sentence("fallback", FALLBACK);
    }

    #[test]
    fn every_wire_kind_is_listed_and_explained() {
        let every_wire_kind = ErrorKind::SENT_BY_SERVERS
            .into_iter()
            .chain([ErrorKind::Unknown]);
        for kind in every_wire_kind {
            assert!(KINDS.contains(&kind.as_str()), "{kind} is not in KINDS");
            assert_ne!(wire_sentence(kind), FALLBACK, "{kind}");
        }
    }

    #[test]
    fn every_ipc_kind_is_listed_with_its_serialized_name() {
        for kind in every_ipc_kind() {
            let name = serde_json::to_value(kind).unwrap();
            assert_eq!(
                name,
                ipc_kind_str(kind),
                "ipc_kind_str disagrees with serde"
            );
            assert!(
                KINDS.contains(&ipc_kind_str(kind)),
                "{name} is not in KINDS"
            );
            assert_ne!(sentence(ipc_kind_str(kind)), FALLBACK);
        }
        for kind in SIGN_IN_KINDS {
            assert!(KINDS.contains(kind));
        }
    }

    #[test]
    fn a_server_kind_says_more_than_the_core_kind() {
        assert_eq!(
            error_sentence("server", Some(ErrorKind::PayloadTooLarge)),
            sentence("payload_too_large")
        );
        assert_eq!(
            error_sentence("server", Some(ErrorKind::Unknown)),
            sentence("server")
        );
        assert_eq!(error_sentence("offline", None), sentence("offline"));
        assert_eq!(error_sentence("unauthorized", None), TOKEN_REFUSED);
        assert!(TOKEN_REFUSED.starts_with("The server did not accept this token"));
    }

    #[test]
    fn sign_in_sentences_name_the_url_and_the_reason_in_plain_words() {
        let url = "http://127.0.0.1:9";
        for reason in UnreachableReason::ALL {
            let text = cannot_reach(url, reason);
            assert!(
                text.starts_with("Can't reach http://127.0.0.1:9: "),
                "{text}"
            );
            assert_is_a_sentence("unreachable", &text.replace(url, "URL"));
        }
        assert!(cannot_reach(url, UnreachableReason::ConnectionRefused).contains("refused"));
        assert!(cannot_reach(url, UnreachableReason::NameNotFound).contains("name"));
        assert!(cannot_reach(url, UnreachableReason::Tls).contains("secure"));
        assert!(cannot_reach(url, UnreachableReason::TimedOut).contains("in time"));
        assert!(not_a_roost_server(url).contains("not a Roost server"));
        let other = other_protocol_version(url, 7);
        assert!(
            other.contains("version 7") && other.contains("version 1"),
            "{other}"
        );
        assert!(server_failed(url, 503).contains("503"));
    }
}
